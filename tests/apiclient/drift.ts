// Must NOT compile: reads a field the contract does not have and sends a body the
// contract does not allow. test-api-client.sh checks that tsc refuses it, which shows
// the journey's type check is really bound to the document.
import createClient from "openapi-fetch";
import type { paths } from "./cloud-api.js";

export async function drift(baseUrl: string): Promise<number> {
  const client = createClient<paths>({ baseUrl });
  const { data } = await client.POST("/api/quote", {
    body: { lines: [{ sku: "MILK-1L", quantity: 2 }], delivery: { lat: 1, lon: 2 } },
  });
  return data ? data.grand_total_cents : 0;
}
