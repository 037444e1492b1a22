// The phone's memory of its cards, in IndexedDB: it can hold the device key as a CryptoKey
// that the page may sign with but never read out, which no other browser storage can.
//   devices:  one record a pass on this phone (key pair, credential, QR body head)
//   snapshot: what the card showed the last time it was online (account, passes, names)

const NAME = "vexe-card";
const VERSION = 1;
let opening = null;

function open() {
  if (opening === null) {
    opening = new Promise((resolve, reject) => {
      const request = indexedDB.open(NAME, VERSION);
      request.onupgradeneeded = () => {
        request.result.createObjectStore("devices", { keyPath: "pass_id" });
        request.result.createObjectStore("snapshot");
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  return opening;
}

async function run(storeName, mode, action) {
  const db = await open();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(storeName, mode);
    const request = action(tx.objectStore(storeName));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export function available() {
  return typeof indexedDB !== "undefined";
}

export const devices = {
  get: (passId) => run("devices", "readonly", (s) => s.get(passId)),
  all: () => run("devices", "readonly", (s) => s.getAll()),
  put: (record) => run("devices", "readwrite", (s) => s.put(record)),
  remove: (passId) => run("devices", "readwrite", (s) => s.delete(passId)),
};

export const snapshot = {
  get: () => run("snapshot", "readonly", (s) => s.get("current")),
  put: (value) => run("snapshot", "readwrite", (s) => s.put(value, "current")),
  clear: () => run("snapshot", "readwrite", (s) => s.delete("current")),
};
