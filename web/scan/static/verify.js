/**
 * Ticket codes (format v1) verified offline in the inspector's browser.
 *
 * The specification is docs/ticket-format.md; the reference is ticketing/verify.py (the
 * server's own verifier), and docs/test-vectors/vectors.json holds the answers both must give
 * (tests/web/scan/ runs every vector through this file in Chromium). An ES module with no build
 * step and no dependency at load time: @noble/ed25519 (vendor/) is imported only where the
 * browser has no WebCrypto Ed25519.
 *
 *   import { OfflineVerifier } from "./verify.js";
 *   const verifier = await OfflineVerifier.fromBundle(bundle, { site: "tan-ky-old-house" });
 *   const verdict = await verifier.scan(qrText, new Date());
 *   // { status, reason, detail, entries_left, claims }, as the server's answer names them
 *
 * Names in verdicts and claims are the server's (snake_case), so that the scanner page shows
 * an online answer and an offline one with the same code.
 */

export const FORMAT_VERSION = 1;
export const BODY_LENGTH = 24;
export const SIGNATURE_LENGTH = 64;
export const CODE_BYTES = BODY_LENGTH + SIGNATURE_LENGTH; // 88
export const CODE_LENGTH = 141; // base32 characters for 88 bytes, padding removed
export const MAX_SERIAL = 2 ** 48 - 1;
/** A revocation that covers every generation of a serial (refunded or cancelled). */
export const ALL_GENERATIONS = 256;
// Signatures cover this prefix too (docs, "The code"): "hoian-ticket-v1" and a zero byte.
const SIGNING_CONTEXT = new TextEncoder().encode("hoian-ticket-v1\0");

/** Tier codes in a code. Part of the format: never renumbered, only added to. */
export const TIER_NAMES = Object.freeze({
  1: "foreign",
  2: "domestic",
  3: "child",
  4: "senior",
  5: "student",
});

/** Every verdict's `reason`, online and offline (`unpaid` is only ever given online). */
export const REASONS = Object.freeze([
  "ok",
  "invalid",
  "revoked",
  "expired",
  "not_yet_valid",
  "wrong_site",
  "already_redeemed",
  "quota_exhausted",
  "unpaid",
]);

/** The text is not a genuine v1 code; `detail` says why, in the format's word for it. */
export class InvalidCode extends Error {
  constructor(detail) {
    super(detail);
    this.name = "InvalidCode";
    this.detail = detail;
  }
}

// --- base32 (RFC 4648, upper case, no padding) ------------------------------------------------

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const B32_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < B32.length; i++) B32_VALUE[B32.charCodeAt(i)] = i;

/** How Python counts a string's length: code points (a lone surrogate counts as one). */
function codePointLength(text) {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/**
 * The 88 bytes of a code, read strictly: exactly 141 characters of A-Z2-7, and the unused last
 * bit zero, so that every ticket has one spelling. Throws InvalidCode.
 */
export function readCode(text) {
  if (typeof text !== "string") throw new InvalidCode("bad_length");
  // The length is in code points, as Python counts it; UTF-16 units differ only where a
  // character lies outside the BMP, which no code has: counted again only then.
  const refuse = () =>
    new InvalidCode(codePointLength(text) === CODE_LENGTH ? "bad_encoding" : "bad_length");
  if (text.length !== CODE_LENGTH) throw refuse();
  const raw = new Uint8Array(CODE_BYTES);
  let acc = 0;
  let bits = 0;
  let at = 0;
  for (let i = 0; i < CODE_LENGTH; i++) {
    const unit = text.charCodeAt(i);
    const value = unit < 128 ? B32_VALUE[unit] : -1;
    if (value < 0) throw refuse();
    acc = ((acc << 5) | value) & 0x1fff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      raw[at++] = (acc >> bits) & 0xff;
    }
  }
  // 141 characters carry 705 bits for 704: the one left over must be zero.
  if (acc & 1) throw new InvalidCode("bad_encoding");
  return raw;
}

// --- serials as people read them (Crockford base32) ------------------------------------------

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CROCKFORD_IN = new Map([...CROCKFORD].map((c, i) => [c, i]));
CROCKFORD_IN.set("O", 0).set("I", 1).set("L", 1);
// The ASCII characters Python's str.strip() removes (str.isspace()).
const ENDS = /^[\t\n\v\f\r\x1c-\x1f ]+|[\t\n\v\f\r\x1c-\x1f ]+$/g;

/** A serial (0 to 2^48 - 1) as printed on tickets, e.g. "3KX9Q-7M2PA". */
export function formatSerial(serial) {
  if (!Number.isSafeInteger(serial) || serial < 0 || serial > MAX_SERIAL) {
    throw new RangeError(`not a ticket serial: ${serial}`);
  }
  let chars = "";
  for (let shift = 45; shift >= 0; shift -= 5) {
    chars += CROCKFORD[Math.floor(serial / 2 ** shift) % 32];
  }
  return `${chars.slice(0, 5)}-${chars.slice(5)}`;
}

/**
 * Read a typed serial: ASCII only, whitespace at the ends and spaces and hyphens anywhere
 * ignored, case ignored, O/I/L read as 0/1/1. Throws RangeError.
 */
export function parseSerial(text) {
  if (typeof text !== "string" || !/^[\x00-\x7f]*$/.test(text)) {
    throw new RangeError(`not a ticket serial: ${String(text).slice(0, 20)}`);
  }
  const refuse = () => new RangeError(`not a ticket serial: ${text.slice(0, 20)}`);
  const cleaned = text.replace(ENDS, "").toUpperCase().replaceAll("-", "").replaceAll(" ", "");
  if (cleaned.length !== 10) throw refuse();
  let value = 0;
  for (const char of cleaned) {
    const digit = CROCKFORD_IN.get(char);
    if (digit === undefined) throw refuse();
    value = value * 32 + digit;
  }
  if (value > MAX_SERIAL) throw refuse();
  return value;
}

// --- Ed25519 with libsodium's rules (docs, "Signatures") -------------------------------------

const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
// The y of the points of order 8; the other is P - Y8.
const Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;

function littleEndian(number) {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(number & 0xffn);
    number >>= 8n;
  }
  return out;
}

function toBigInt(bytes) {
  let hex = "";
  for (let i = bytes.length - 1; i >= 0; i--) hex += bytes[i].toString(16).padStart(2, "0");
  return BigInt(`0x${hex}`);
}

const L_BYTES = littleEndian(L);
// libsodium's ge25519_has_small_order list: y values (sign bit ignored) of the points of small
// order, with the non-canonical spellings p and p + 1 of 0 and 1.
const SMALL_ORDER = [0n, 1n, Y8, P - Y8, P - 1n, P, P + 1n].map(littleEndian);

/** S < L (libsodium's sc25519_is_canonical): refuses a second spelling of a signature. */
function scalarIsReduced(s) {
  for (let i = 31; i >= 0; i--) {
    if (s[i] !== L_BYTES[i]) return s[i] < L_BYTES[i];
  }
  return false;
}

function hasSmallOrder(point) {
  next: for (const bad of SMALL_ORDER) {
    for (let i = 0; i < 31; i++) if (point[i] !== bad[i]) continue next;
    if ((point[31] & 0x7f) === bad[31]) return true;
  }
  return false;
}

/** y < p (libsodium's ge25519_is_canonical; the sign bit is not looked at). */
function pointIsCanonical(point) {
  if ((point[31] & 0x7f) !== 0x7f) return true;
  for (let i = 30; i > 0; i--) if (point[i] !== 0xff) return true;
  return point[0] < 0xed;
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

function hexBytes(hex) {
  return Uint8Array.from(hex.match(/../g), (byte) => parseInt(byte, 16));
}

// RFC 8032, 7.1, test 1: a backend must accept it, and refuse it with one bit changed.
const RFC8032_TEST_1 = {
  publicKey: hexBytes("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
  signature: hexBytes(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  ),
  message: new Uint8Array(0),
};

/**
 * The browser's own Ed25519 (Chromium 137+, Firefox 129+, Safari 17+): BoringSSL and the
 * others check S < L and the cofactorless equation, but not small orders (added below).
 */
async function webCryptoBackend() {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return null;
  const algorithm = { name: "Ed25519" };
  const importKey = async (raw) => {
    const key = await subtle.importKey("raw", raw, algorithm, false, ["verify"]);
    return (signature, message) => subtle.verify(algorithm, key, signature, message);
  };
  try {
    const test = RFC8032_TEST_1;
    const verify = await importKey(test.publicKey);
    const flipped = test.signature.slice();
    flipped[10] ^= 1;
    if ((await verify(test.signature, test.message)) && !(await verify(flipped, test.message))) {
      return { name: "webcrypto", importKey };
    }
  } catch {
    // No Ed25519 in this browser's WebCrypto (NotSupportedError): noble takes over.
  }
  return null;
}

/**
 * @noble/ed25519's point arithmetic and SHA-512, with the cofactorless equation of RFC 8032
 * 5.1.7 written here: noble's own verify multiplies by the cofactor, and so accepts an R with
 * a small-order component that libsodium (the server) refuses.
 */
async function nobleBackend() {
  const { Point, hashes } = await import("./vendor/noble-ed25519/index.js");
  const importKey = async (raw) => {
    const minusA = fixedBase(Point, Point.fromBytes(raw, false).negate()); // strict: y < p
    return async (signature, message) => {
      const r = signature.subarray(0, 32);
      const s = toBigInt(signature.subarray(32, 64)); // below L: checked before
      const k = toBigInt(await hashes.sha512Async(concat(r, raw, message))) % L;
      // R' = [S]B - [k]A must be R, byte for byte.
      const expected = Point.BASE.multiply(s, false).add(minusA(k));
      return sameBytes(expected.toBytes(), r);
    };
  };
  return { name: "noble", importKey };
}

/**
 * [k]P for a point met on every scan (a signing key): 32 rows of the multiples j * 256^i * P,
 * so a product is at most 32 additions instead of noble's 250-odd doublings and additions for
 * a point other than B. Variable time, which is fine: a key and a signature are public. The
 * 8,192 points make the fallback 3.5 times as fast (benchmarks/README.md, "Offline checks in
 * the browser"); they take about 90 ms to build, so a key builds them at its first code,
 * not at start-up (a key that is listed but never met costs nothing).
 */
function fixedBase(Point, point) {
  let rows = null;
  const build = () => {
    const built = [];
    let base = point;
    for (let i = 0; i < 32; i++) {
      const row = [Point.ZERO, base];
      for (let j = 2; j < 256; j++) row.push(row[j - 1].add(base));
      built.push(row);
      base = row[255].add(base);
    }
    return built;
  };
  return (k) => {
    rows ??= build();
    let sum = Point.ZERO;
    for (let i = 0; k > 0n; i++, k >>= 8n) {
      const digit = Number(k & 0xffn);
      if (digit !== 0) sum = sum.add(rows[i][digit]);
    }
    return sum;
  };
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const backends = new Map();

const CHOICES = new Map([
  ["noble", nobleBackend],
  [
    "webcrypto",
    async () => {
      const backend = await webCryptoBackend();
      if (!backend) throw new Error("this browser has no WebCrypto Ed25519");
      return backend;
    },
  ],
  ["auto", async () => (await webCryptoBackend()) ?? nobleBackend()],
]);

/**
 * The Ed25519 implementation to use: "webcrypto", "noble", or "auto" (the browser's own where
 * it passes a known-answer test, else noble). Resolves to { name, importKey(raw) }, where
 * importKey resolves to verify(signature, message) -> Promise<boolean> (the bare equation,
 * without libsodium's pre-checks, which KeySet adds).
 */
export function ed25519Backend(preference = "auto") {
  const choose = CHOICES.get(preference);
  if (choose === undefined) throw new RangeError(`unknown Ed25519 backend: ${preference}`);
  // Once per page: the known-answer test and noble's import are not worth repeating.
  if (!backends.has(preference)) backends.set(preference, choose());
  return backends.get(preference);
}

function b64urlDecode(text) {
  const base64 = text.replaceAll("-", "+").replaceAll("_", "/");
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}

/** Public keys by key id, with the ids of retired keys (known, no longer accepted). */
export class KeySet {
  constructor(verifiers, retired, backend) {
    /** @type {Map<number, (signature: Uint8Array, message: Uint8Array) => Promise<boolean>>} */
    this.verifiers = verifiers;
    /** @type {Set<number>} */
    this.retired = retired;
    this.backend = backend;
  }

  /** From the JSON of GET /api/v1/checkin/keys. */
  static async fromApi(document, { ed25519 = "auto" } = {}) {
    const backend = await ed25519Backend(ed25519);
    const verifiers = new Map();
    const retired = new Set();
    for (const item of document.keys) {
      const kid = Number(item.kid);
      if (item.status === "retired") {
        retired.add(kid);
        continue;
      }
      const raw = b64urlDecode(item.public_key);
      if (raw.length !== 32) throw new RangeError(`key ${kid}: not a 32-byte Ed25519 key`);
      verifiers.set(kid, await verifierFor(raw, backend));
    }
    return new KeySet(verifiers, retired, backend.name);
  }
}

const VERIFIES_NOTHING = async () => false;

async function verifierFor(raw, backend) {
  // libsodium refuses every signature under such a key; so does the scanner.
  if (!pointIsCanonical(raw) || hasSmallOrder(raw)) return VERIFIES_NOTHING;
  let verify;
  try {
    verify = await backend.importKey(raw);
  } catch {
    // Not a point at all (noble's decoding, or a browser that checks on import): libsodium
    // fails to decode it too, and refuses every signature.
    return VERIFIES_NOTHING;
  }
  return (signature, message) => {
    // What libsodium checks before the equation, and WebCrypto and noble do not all check.
    if (!scalarIsReduced(signature.subarray(32, 64))) return false;
    if (hasSmallOrder(signature.subarray(0, 32))) return false;
    return verify(signature, message);
  };
}

// --- the code and the rules of entry ----------------------------------------------------------

function uint32(raw, at) {
  return ((raw[at] << 24) | (raw[at + 1] << 16) | (raw[at + 2] << 8) | raw[at + 3]) >>> 0;
}

/**
 * Read and authenticate a code (rule 1, checks 1 to 6, in the document's order); resolves to
 * its claims or rejects with InvalidCode.
 */
export async function decodeCode(text, keys) {
  const raw = readCode(text);
  if (raw[0] !== FORMAT_VERSION) throw new InvalidCode("unknown_version");
  const keyId = (raw[1] << 8) | raw[2];
  const verify = keys.verifiers.get(keyId);
  if (verify === undefined) {
    throw new InvalidCode(keys.retired.has(keyId) ? "retired_key" : "unknown_key");
  }
  const message = new Uint8Array(SIGNING_CONTEXT.length + BODY_LENGTH);
  message.set(SIGNING_CONTEXT);
  message.set(raw.subarray(0, BODY_LENGTH), SIGNING_CONTEXT.length);
  if (!(await verify(raw.subarray(BODY_LENGTH), message))) {
    throw new InvalidCode("bad_signature");
  }
  const claims = {
    key_id: keyId,
    serial: ((raw[3] << 8) | raw[4]) * 2 ** 32 + uint32(raw, 5),
    generation: raw[9],
    product_id: (raw[10] << 8) | raw[11],
    tier: raw[12],
    max_sites: raw[13],
    valid_from: uint32(raw, 14),
    valid_until: uint32(raw, 18),
    use_window_minutes: (raw[22] << 8) | raw[23],
  };
  // Values the issuer never writes: only a signer that bypassed it could have signed them.
  if (
    claims.product_id === 0 ||
    claims.tier === 0 ||
    claims.max_sites === 0 ||
    claims.valid_until <= claims.valid_from
  ) {
    throw new InvalidCode("bad_fields");
  }
  return claims;
}

/**
 * Rules 2 and 4 to 8 (rule 3, paid, is the server's), in order; times in milliseconds since
 * the epoch. Returns { reason, entries_left }: entries left after this scan when admitted,
 * else those left before it.
 */
export function evaluate({
  maxSites,
  validFrom,
  validUntil,
  useWindow,
  firstUsedAt,
  coveredSites,
  enteredSites,
  site,
  at,
  revoked = false,
}) {
  const left = Math.max(0, maxSites - enteredSites.size);
  const refuse = (reason) => ({ reason, entries_left: left });
  if (revoked) return refuse("revoked");
  if (at < validFrom) return refuse("not_yet_valid");
  if (useWindow !== null && firstUsedAt !== null) {
    // After a first entry only the window counts, even past valid until.
    if (at >= firstUsedAt + useWindow) return refuse("expired");
  } else if (at >= validUntil) {
    return refuse("expired");
  }
  if (!coveredSites.has(site)) return refuse("wrong_site");
  if (enteredSites.has(site)) return refuse("already_redeemed");
  if (left === 0) return { reason: "quota_exhausted", entries_left: 0 };
  return { reason: "ok", entries_left: left - 1 };
}

function millis(at) {
  if (at instanceof Date) return at.getTime();
  if (typeof at === "number" && Number.isFinite(at)) return at;
  throw new TypeError("a time is a Date or milliseconds since the epoch");
}

function verdict(reason, { detail = null, entriesLeft = null, claims = null } = {}) {
  return {
    status: reason === "ok" ? "ok" : "error",
    reason,
    detail,
    entries_left: entriesLeft,
    claims,
  };
}

function publicClaims(claims) {
  return {
    ...claims,
    serial: formatSerial(claims.serial),
    tier: TIER_NAMES[claims.tier] ?? `tier-${claims.tier}`,
  };
}

/**
 * What a scanner does with no signal: checks codes against the keys, products and revocations
 * it last downloaded and against the entries it knows of (its own, and those downloaded for
 * its gate). Its scans are uploaded later to POST /api/v1/checkin/sync, where the server finds
 * what one device could not see.
 */
export class OfflineVerifier {
  /**
   * @param {object} state
   * @param {KeySet} state.keys
   * @param {Map<number, Set<string>>} state.products product number -> slugs of its sites
   * @param {string} state.site the slug of the site this gate is at
   * @param {Map<number, {below: number, reason: string}>} [state.revocations] serial -> codes
   *   of generations below `below` are revoked, for `reason`
   */
  constructor({ keys, products, site, revocations = new Map() }) {
    this.keys = keys;
    this.products = products;
    this.site = site;
    this.revocations = revocations;
    /** @type {Map<number, Map<string, number>>} serial -> site slug -> entry time (ms) */
    this.entries = new Map();
  }

  /** "webcrypto" or "noble": which Ed25519 checks the signatures. */
  get backend() {
    return this.keys.backend;
  }

  /**
   * From the JSON documents a scanner downloads while online: `keys` (GET
   * /api/v1/checkin/keys), `products` (GET /api/v1/products) and, optionally, `revocations`
   * (GET /api/v1/checkin/revocations; `items` in seq order, pages concatenated).
   * `ed25519`: "auto" (default), "webcrypto" or "noble".
   */
  static async fromBundle(bundle, { site, ed25519 = "auto" }) {
    const revocations = new Map();
    for (const item of bundle.revocations?.items ?? []) {
      const serial = parseSerial(item.serial);
      const below = Number(item.below_generation);
      if (!("reason" in item)) throw new TypeError(`revocation of ${item.serial}: no reason`);
      // The widest entry names the revocation (a refund outranks an earlier reissue); of two
      // as wide, the later in seq order.
      if (below >= (revocations.get(serial)?.below ?? 0)) {
        revocations.set(serial, { below, reason: String(item.reason) });
      }
    }
    const products = new Map();
    for (const item of bundle.products.items) {
      products.set(Number(item.id), new Set(item.sites));
    }
    const keys = await KeySet.fromApi(bundle.keys, { ed25519 });
    return new OfflineVerifier({ keys, products, site, revocations });
  }

  /** Note an entry of a ticket at a site (the gate's recent entries, downloaded). */
  recordEntry(serial, site, at) {
    const number = typeof serial === "number" ? serial : parseSerial(serial);
    let sites = this.entries.get(number);
    if (sites === undefined) this.entries.set(number, (sites = new Map()));
    sites.set(site, millis(at));
  }

  /**
   * The verdict on one code at this gate's site and time (a Date or ms); records nothing.
   * Resolves to { status, reason, detail, entries_left, claims }; never rejects for a bad code.
   */
  async check(text, at = new Date()) {
    const now = millis(at);
    let claims;
    try {
      claims = await decodeCode(text, this.keys);
    } catch (error) {
      if (error instanceof InvalidCode) return verdict("invalid", { detail: error.detail });
      throw error;
    }
    const covered = this.products.get(claims.product_id);
    if (covered === undefined) {
      return verdict("invalid", { detail: "unknown_product", claims: publicClaims(claims) });
    }
    const entered = this.entries.get(claims.serial) ?? new Map();
    let firstUsedAt = null;
    for (const time of entered.values()) {
      if (firstUsedAt === null || time < firstUsedAt) firstUsedAt = time;
    }
    const revocation = this.revocations.get(claims.serial);
    const revoked = revocation !== undefined && claims.generation < revocation.below;
    const { reason, entries_left } = evaluate({
      maxSites: claims.max_sites,
      validFrom: claims.valid_from * 1000,
      validUntil: claims.valid_until * 1000,
      useWindow: claims.use_window_minutes ? claims.use_window_minutes * 60_000 : null,
      firstUsedAt,
      coveredSites: covered,
      enteredSites: entered,
      site: this.site,
      at: now,
      revoked,
    });
    return verdict(reason, {
      detail: reason === "revoked" ? revocation.reason : null,
      entriesLeft: entries_left,
      claims: publicClaims(claims),
    });
  }

  /** Remember an admitted entry, so that the same ticket is refused here next time. */
  admit(result, at = new Date()) {
    if (result.status === "ok" && result.claims !== null) {
      this.recordEntry(result.claims.serial, this.site, at);
    }
  }

  /** Check a code and, when it is admitted, record the entry. */
  async scan(text, at = new Date()) {
    const result = await this.check(text, at);
    this.admit(result, at);
    return result;
  }
}
