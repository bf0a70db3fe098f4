/* Starts Swagger UI on /api/docs from the page's data attributes (no inline script). */
"use strict";
(() => {
  const container = document.getElementById("swagger-ui-container");
  const config = Object.assign(
    { url: container.dataset.specUrl, dom_id: "#swagger-ui-container" },
    JSON.parse(container.dataset.config || "{}"),
  );
  window.ui = SwaggerUIBundle(config);
})();
