/* Stripe's card form on the order page; the keys come from the form's data attributes, so the
   page needs no inline script (its Content-Security-Policy allows none). */
"use strict";
(() => {
  const form = document.getElementById("pay");
  if (!form || !window.Stripe) return;
  const stripe = Stripe(form.dataset.publishableKey);
  const elements = stripe.elements({ clientSecret: form.dataset.clientSecret, locale: form.dataset.locale });
  elements.create("payment").mount("#card");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { error } = await stripe.confirmPayment({ elements, confirmParams: { return_url: window.location.href } });
    if (error) document.getElementById("message").textContent = error.message;
  });
})();
