// A customer app's journey written against a client generated from the published
// contract (docs/api/cloud.openapi.json -> openapi-typescript -> cloud-api.d.ts, called
// through openapi-fetch), the way an app team would build one. tsc type-checks every
// request body, parameter and field read here against the document, so a route, field
// or status the document gets wrong fails the build before anything runs; then the
// journey runs against a real shopeasy-cloud (run.mjs starts it).
//
// The steps: an operator registers a store and a product, the store syncs its stock (as
// its own sync client would), and a new customer signs in with a code from the sandbox
// SMS, saves a delivery address, browses the catalog of their geohash, searches in
// Hinglish, asks for a quote, orders at the quoted price, pays on the sandbox gateway,
// follows the order until it is paid, finds it in their history, cancels it, rotates
// their refresh token (a reused one is refused) and signs out.
import createClient, { type Middleware } from "openapi-fetch";
import type { paths } from "./cloud-api.js";

export interface JourneyConfig {
  baseUrl: string;
  adminToken: string;
  phone: string;
  log: (line: string) => void;
}

export interface JourneyFigures {
  steps: number;
  orderId: string;
  totalCents: number;
  feeCents: number;
}

class JourneyError extends Error {}

function must<T>(what: string, value: T | undefined | null, response: Response): T {
  if (value === undefined || value === null) {
    throw new JourneyError(`${what}: HTTP ${response.status}, no body of the documented shape`);
  }
  return value;
}

function expect(what: string, ok: boolean, detail: unknown): void {
  if (!ok) throw new JourneyError(`${what}: ${JSON.stringify(detail)}`);
}

function bearer(token: () => string): Middleware {
  return {
    onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${token()}`);
      return request;
    },
  };
}

export async function journey(cfg: JourneyConfig): Promise<JourneyFigures> {
  let steps = 0;
  const step = (line: string) => {
    steps++;
    cfg.log(`  ${steps}. ${line}`);
  };
  const admin = createClient<paths>({ baseUrl: cfg.baseUrl });
  admin.use(bearer(() => cfg.adminToken));

  // --- The operator's side: a store, a product, the store's stock.
  const storeId = "api-client-store";
  const storeSecret = "api-client-store-secret-0123456789";
  const where = { lat: 12.9716, lon: 77.5946 };
  {
    const { data, response } = await admin.PUT("/v1/stores/{id}", {
      params: { path: { id: storeId } },
      body: { name: "Client journey store", ...where, service_radius_m: 3000, secret: storeSecret },
    });
    must("PUT /v1/stores/{id}", data, response);
    step(`store ${storeId} registered`);
  }
  {
    const { data, response } = await admin.PUT("/v1/catalog/{sku}", {
      params: { path: { sku: "MILK-1L" } },
      body: { name: "Toned milk 1 L", category: "dairy", price_cents: 6500, unit: "1 L" },
    });
    must("PUT /v1/catalog/{sku}", data, response);
    step("product MILK-1L in the catalog");
  }
  {
    const store = createClient<paths>({ baseUrl: cfg.baseUrl });
    store.use(bearer(() => `${storeId}:${storeSecret}`));
    const { data, response } = await store.POST("/v1/stores/{id}/sync", {
      params: { path: { id: storeId } },
      body: {
        store_id: storeId,
        first_seq: 1,
        changes: [
          {
            seq: 1,
            kind: "stock.changed",
            body: { sku: "MILK-1L", sku_on_hand: 40, sku_reserved: 0, version: 1 },
          },
        ],
        downstream_cursor: 0,
        sent_at_ms: Date.now(),
      },
    });
    const reply = must("POST /v1/stores/{id}/sync", data, response);
    expect("the sync acknowledges the change", reply.acked_seq === 1, reply);
    step("the store synced 40 units and is online");
  }
  const geo = await (async () => {
    const { data, response } = await admin.GET("/v1/stores");
    const listed = must("GET /v1/stores", data, response).stores.find((s) => s.id === storeId);
    expect("the store is listed online", listed !== undefined && listed.online === true, listed);
    return must("the store's geohash", listed?.geohash, response);
  })();

  // --- The customer: sign in with a code from the sandbox SMS.
  const customer = createClient<paths>({ baseUrl: cfg.baseUrl });
  let access = "";
  customer.use(bearer(() => access));
  {
    const { data, response } = await customer.POST("/api/auth/otp", { body: { phone: cfg.phone } });
    const sent = must("POST /api/auth/otp", data, response);
    expect("a code is sent", sent.sent && sent.expires_in > 0, sent);
  }
  const code = await (async () => {
    const { data, response } = await admin.GET("/v1/sandbox/sms", {
      params: { query: { phone: cfg.phone } },
    });
    const newest = must("GET /v1/sandbox/sms", data, response).messages[0];
    const match = newest?.body.match(/\b(\d{6})\b/);
    return must("a 6-digit code in the newest message", match?.[1], response);
  })();
  let refresh = "";
  {
    const { data, response } = await customer.POST("/api/auth/verify", {
      body: { phone: cfg.phone, code },
    });
    const pair = must("POST /api/auth/verify", data, response);
    access = pair.access_token;
    refresh = pair.refresh_token;
    step(`signed in as ${pair.customer_id ?? "?"} with the code from the SMS`);
  }
  {
    const { data, response } = await customer.GET("/api/me");
    const me = must("GET /api/me", data, response);
    expect("the profile is the signed-in number", me.phone === cfg.phone, me);
  }

  // --- A saved delivery address, then browse, search, quote, order, pay.
  const delivery = { lat: where.lat + 0.004, lon: where.lon };
  {
    const { data, response } = await customer.PUT("/api/me/addresses/{address_id}", {
      params: { path: { address_id: "home" } },
      body: { label: "Home", line: "Flat 4B, near the temple", ...delivery },
    });
    const home = must("PUT /api/me/addresses/{address_id}", data, response);
    const listed = await customer.GET("/api/me/addresses");
    const all = must("GET /api/me/addresses", listed.data, listed.response).addresses;
    expect("the saved address is listed", all.some((a) => a.geohash === home.geohash), all);
    step(`saved address "${home.label}" at geohash ${home.geohash}`);
  }
  {
    const { data, response } = await customer.GET("/api/inventory", {
      params: { query: { geo_hash: geo, limit: 20 } },
    });
    const page = must("GET /api/inventory", data, response);
    const milk = page.items.find((i) => i.sku === "MILK-1L");
    expect("browsing the geohash shows the store's milk", milk?.available === 40, page);
    step(`browsing ${page.geo_hash}: ${page.items.length} product(s) from ${page.store.name}`);
  }
  {
    const { data, response } = await customer.GET("/api/suggest", {
      params: { query: { q: "doodh", geo_hash: geo } },
    });
    const found = must("GET /api/suggest", data, response);
    const milk = found.items.find((i) => i.sku === "MILK-1L");
    expect("'doodh' suggests the milk, in stock", milk !== undefined && milk.in_stock, found);
    step(`"doodh" suggests ${milk?.name} at ${milk?.price_cents} paise from ${found.store.name}`);
  }
  const lines = [{ sku: "MILK-1L", qty: 2 }];
  const quote = await (async () => {
    const { data, response } = await customer.POST("/api/quote", { body: { lines, delivery } });
    return must("POST /api/quote", data, response);
  })();
  const feeCents = quote.fees.reduce((sum, f) => sum + f.amount_cents, 0);
  step(`quote ${quote.quote_id}: ${quote.total_cents} paise, fees ${feeCents}, shown before ordering`);
  const order = await (async () => {
    const { data, response } = await customer.POST("/api/orders", {
      params: { header: { "Idempotency-Key": `client-journey-${Date.now()}` } },
      body: { lines, delivery, quote_id: quote.quote_id },
    });
    return must("POST /api/orders", data, response);
  })();
  expect("the order costs what the quote said", order.total_cents === quote.total_cents, order);
  const payment = must("the order's payment step", order.payment, new Response(null));
  step(`order ${order.order_id} placed at the quoted ${order.total_cents} paise`);
  {
    const intent = payment.intent_id;
    const pay = createClient<paths>({ baseUrl: cfg.baseUrl });
    const { data, response } = await pay.POST("/sandbox/pay/{intent_id}", {
      params: { path: { intent_id: intent } },
      body: { outcome: "succeed" },
    });
    must("POST /sandbox/pay/{intent_id}", data, response);
  }
  {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const { data, response } = await customer.GET("/api/orders/{id}", {
        params: { path: { id: order.order_id } },
      });
      const now = must("GET /api/orders/{id}", data, response);
      if (now.paid) {
        step(`paid on the sandbox gateway; the order is ${now.status}`);
        break;
      }
      if (Date.now() > deadline) throw new JourneyError(`not paid after 10 s: ${now.status}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  {
    const { data, response } = await customer.GET("/api/me/orders", {
      params: { query: { limit: 10 } },
    });
    const history = must("GET /api/me/orders", data, response);
    expect(
      "the order is in the customer's history",
      history.orders.some((o) => o.order_id === order.order_id),
      history,
    );
    step("the order is in the customer's history");
  }
  {
    const { data, response } = await customer.POST("/api/orders/{id}/cancel", {
      params: { path: { id: order.order_id } },
    });
    const cancelled = must("POST /api/orders/{id}/cancel", data, response);
    expect(
      "the cancelled order ends cancelled or refunded",
      cancelled.status === "cancelled" || cancelled.status === "refunded",
      cancelled,
    );
    step(`cancelled: ${cancelled.status}`);
  }

  // --- Tokens: refresh rotates; the old refresh token is refused; sign out.
  {
    const old = refresh;
    const { data, response } = await customer.POST("/api/auth/refresh", {
      body: { refresh_token: old },
    });
    const pair = must("POST /api/auth/refresh", data, response);
    access = pair.access_token;
    refresh = pair.refresh_token;
    const reused = await customer.POST("/api/auth/refresh", { body: { refresh_token: old } });
    expect("a reused refresh token is refused", reused.response.status === 401, reused.error);
    step("refresh token rotated; the reused one answered 401");
  }
  {
    const { data, response } = await customer.POST("/api/auth/logout", {
      body: { refresh_token: refresh },
    });
    expect("signed out", must("POST /api/auth/logout", data, response).signed_out, data);
    step("signed out");
  }
  return { steps, orderId: order.order_id, totalCents: order.total_cents, feeCents };
}
