/**
 * @module Which WebSocket subprotocol the server answers with. Browsers cannot set headers on a
 * WebSocket, so they may send their API key as a `bearer.<key>` subprotocol; a browser that offers
 * subprotocols fails the connection unless the server picks one of them, so we pick the first that
 * is not a key (the demo offers `transcribe`), and echo the key one only when it is all there is.
 */

/** ws's handleProtocols hook: the offered protocol to accept. */
export function chooseSubprotocol(offered: Set<string>): string | false {
  const all = [...offered];
  return all.find((p) => !p.startsWith('bearer.')) ?? all[0] ?? false;
}
