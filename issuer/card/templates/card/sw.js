// The card's service worker: the card page and its files from this phone's cache when the
// network is away, so the card opens and its QR keeps rotating with no network at all.
// Version {{ version }}: a new version of any file makes a new worker and a new cache.

const CACHE = "vexe-card-{{ version }}";
const SHELL = {{ shell|tojson }};
const PAGE = SHELL[0];
const PHOTO = "/api/me/photo";
// A weak signal on a moving bus must not keep the rider waiting for the card.
const NETWORK_WAIT = 4000;

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n.startsWith("vexe-card-") && n !== CACHE)
      .map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  // The page from the network when it answers, kept for offline: also when the card asks
  // for it after a switch of language, so that it opens offline in the language chosen.
  if (url.pathname === PAGE) {
    event.respondWith(networkFirst(request, PAGE));
  } else if (url.pathname === PHOTO) {
    event.respondWith(networkFirst(request, PHOTO));
  } else if (SHELL.includes(url.pathname)) {
    event.respondWith(caches.match(url.pathname).then((hit) => hit ?? fetch(request)));
  }
  // Everything else (the API) goes to the network: the page keeps its own copy of what it
  // needs offline, and a stale answer from here would hide a revocation.
});

async function networkFirst(request, key) {
  const cache = await caches.open(CACHE);
  try {
    const response = await Promise.race([
      fetch(request),
      new Promise((_, reject) => setTimeout(() => reject(new Error("slow network")), NETWORK_WAIT)),
    ]);
    if (response.ok) await cache.put(key, response.clone());
    return response;
  } catch (error) {
    const hit = await cache.match(key);
    if (hit) return hit;
    throw error;
  }
}
