/** How long `Dds.create` and `connect` wait for peers to connect and join the DHT, in ms. */
export const DEFAULT_BOOTSTRAP_TIMEOUT_MS = 10_000
