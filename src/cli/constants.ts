/** Defaults of the `dds` command line. */

/** Repo directory when neither `--repo` nor `DDS_REPO` names one (under the home directory). */
export const DEFAULT_REPO_NAME = '.dds'

/**
 * libp2p listen addresses of the daemon when none is configured: TCP 4180,
 * and QUIC on UDP 4181 (a relay server answers STUN on UDP 4180, the TCP
 * port's number).
 */
export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/4180', '/ip4/0.0.0.0/udp/4181/quic-v1']

/** Host the daemon's HTTP gateway listens on when none is configured. */
export const DEFAULT_GATEWAY_HOST = '127.0.0.1'

/** Port of the daemon's HTTP gateway when none is configured. */
export const DEFAULT_GATEWAY_PORT = 8180

/** Replication factor of the daemon when none is configured. */
export const DEFAULT_REPLICATION_FACTOR = 3

/** Largest replication factor the daemon accepts. */
export const MAX_REPLICATION_FACTOR = 64

/** File in the repo holding the gateway URL of the running daemon. */
export const API_FILE = 'api'

/** Config file in the repo. */
export const CONFIG_FILE = 'config.json'

/** Directory in the repo holding the LevelDB store. */
export const STORE_DIR = 'store'

/** Bytes read from a file per upload step. */
export const UPLOAD_READ_BYTES = 1024 * 1024
