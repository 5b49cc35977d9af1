#!/usr/bin/env python3
"""The demo's simulated people: customers ordering around both stores (paying on the
sandbox gateway's page), pickers at each store picking by scanning the pick list and
packing, and a live summary line (orders per state, median promised vs actual delivery
minutes). Runners are the shopeasy-runner processes; they ride what the edge assigns.

Usage: demo-traffic.py CLOUD_URL CUSTOMER_TOKEN EDGE_TOKEN EDGE_URL... [--catalog FILE]
Standard library only; talks to loopback addresses given on the command line.
"""
import json
import math
import random
import re
import statistics
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid


# The demo's customers who sign in with their phone (sandbox SMS: nothing is sent).
PHONES = ["+919800000001", "+919800000002", "+919800000003"]


def call(method, url, token=None, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else {})
    except urllib.error.HTTPError as e:
        raw = e.read()
        try:
            return e.code, json.loads(raw)
        except ValueError:
            return e.code, {"raw": raw.decode(errors="replace")}
    except (urllib.error.URLError, OSError) as e:
        return 0, {"error": str(e)}


def near(lat, lon, max_m):
    """A random point within max_m metres of (lat, lon)."""
    r = max_m * math.sqrt(random.random())
    a = random.random() * 2 * math.pi
    dlat = r * math.cos(a) / 111320.0
    dlon = r * math.sin(a) / (111320.0 * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


class Demo:
    def __init__(self, cloud, customer_token, edge_token, edges, skus):
        self.cloud, self.customer_token, self.edge_token = cloud, customer_token, edge_token
        self.edges, self.skus = edges, skus
        self.placed = {}  # order id -> last known order json
        self.refused = {}  # error code -> count
        self.lock = threading.Lock()
        self.stores = []
        self.signed_in = {}  # phone -> access token (None when sign-in failed)

    def sign_in(self, phone):
        """A customer's phone sign-in: ask for a code, read it from the sandbox SMS
        provider (as the phone would receive it), exchange it for tokens."""
        status, _ = call("POST", self.cloud + "/api/auth/otp", None, {"phone": phone})
        if status != 202:
            return None
        status, sms = call("GET", self.cloud + "/v1/sandbox/sms?phone=" +
                           urllib.parse.quote(phone), self.edge_token)
        found = re.search(r"code is ([0-9]{6})",
                          (sms.get("messages") or [{}])[0].get("body", "")) if status == 200 else None
        if not found:
            return None
        status, tokens = call("POST", self.cloud + "/api/auth/verify", None,
                              {"phone": phone, "code": found.group(1)})
        if status != 200:
            return None
        print(f"demo: {phone} signed in with a one-time code as {tokens.get('customer_id')}",
              flush=True)
        return tokens.get("access_token")

    def customers(self, every_s):
        while True:
            status, stores = call("GET", self.cloud + "/v1/stores", self.edge_token)
            if status == 200 and stores.get("stores"):
                self.stores = stores["stores"]
                break
            time.sleep(1)
        while True:
            store = random.choice(self.stores)
            lat, lon = near(store["lat"], store["lon"], 1500)
            lines = [{"sku": s, "qty": random.randint(1, 2)}
                     for s in random.sample(self.skus, random.randint(1, 3))]
            key = str(uuid.uuid4())
            # One order in four comes from a customer signed in with their phone.
            token = self.customer_token
            if random.random() < 0.25:
                phone = random.choice(PHONES)
                if phone not in self.signed_in:
                    self.signed_in[phone] = self.sign_in(phone)
                token = self.signed_in[phone] or self.customer_token
            status, order = call("POST", self.cloud + "/api/orders", token,
                                 {"lines": lines, "delivery": {"lat": lat, "lon": lon}},
                                 {"Idempotency-Key": key})
            if status == 201:
                with self.lock:
                    self.placed[order["order_id"]] = order
                pay = (order.get("payment") or {}).get("confirm_url")
                if pay:
                    call("POST", pay, None, {"outcome": "succeed"})
            else:
                if status == 401 and token != self.customer_token:
                    self.signed_in = {p: t for p, t in self.signed_in.items() if t != token}
                code = (order.get("error") or {}).get("code", str(status))
                with self.lock:
                    self.refused[code] = self.refused.get(code, 0) + 1
            time.sleep(every_s * random.uniform(0.5, 1.5))

    def picker(self, edge):
        while True:
            for state in ("accepted", "picking"):
                status, listing = call("GET", f"{edge}/api/orders?status={state}", self.edge_token)
                orders = listing.get("items", []) if status == 200 else []
                for o in orders:
                    self.pick_one(edge, o["order_id"])
            time.sleep(1)

    def pick_one(self, edge, order_id):
        status, plist = call("GET", f"{edge}/api/orders/{order_id}/picklist", self.edge_token)
        if status != 200:
            return
        # One entry per bin and lot still reserved, in walk order.
        for item in plist.get("entries", []):
            codes = item.get("barcodes") or []
            for _ in range(int(item.get("qty", 0))):
                if not codes:
                    break
                time.sleep(random.uniform(0.3, 0.8))  # walking to the bin, scanning
                call("POST", f"{edge}/api/orders/{order_id}/pick", self.edge_token,
                     {"code": codes[0], "bin": item.get("bin"), "scan_id": str(uuid.uuid4())})
        call("POST", f"{edge}/api/orders/{order_id}/pack", self.edge_token, {})

    def summary(self, every_s):
        while True:
            time.sleep(every_s)
            with self.lock:
                ids = list(self.placed)
            states, promised, actual = {}, [], []
            for oid in ids:
                status, o = call("GET", f"{self.cloud}/api/orders/{oid}", self.customer_token)
                if status != 200:
                    continue
                with self.lock:
                    self.placed[oid] = o
                states[o["status"]] = states.get(o["status"], 0) + 1
                if o["status"] == "delivered":
                    promised.append((o["promised_at_ms"] - o["created_at_ms"]) / 60000)
                    actual.append((o["updated_at_ms"] - o["created_at_ms"]) / 60000)
            line = " ".join(f"{k}={v}" for k, v in sorted(states.items())) or "no orders yet"
            if actual:
                line += (f" | delivered: median promised {statistics.median(promised):.1f} min,"
                         f" actual {statistics.median(actual):.1f} min")
            with self.lock:
                if self.refused:
                    line += " | refused: " + " ".join(f"{k}={v}" for k, v in self.refused.items())
            print("orders:", line, flush=True)


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    catalog = None
    if "--catalog" in argv:
        catalog = argv[argv.index("--catalog") + 1]
        args.remove(catalog)
    if len(args) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    cloud, customer_token, edge_token, edges = args[0], args[1], args[2], args[3:]
    skus = [p["sku"] for p in json.load(open(catalog))["products"]] if catalog else []
    demo = Demo(cloud, customer_token, edge_token, edges, skus)
    threads = [threading.Thread(target=demo.customers, args=(6,), daemon=True)]
    threads += [threading.Thread(target=demo.picker, args=(e,), daemon=True) for e in edges]
    threads.append(threading.Thread(target=demo.summary, args=(10,), daemon=True))
    for t in threads:
        t.start()
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except KeyboardInterrupt:
        sys.exit(0)
