/** Limits and timings of the workspace (docs/workspace.md). */
import { randomBytes } from 'node:crypto'

/** A workspace with more files than this is refused before anything is sent (fix: .kappaignore or --workspace). */
export const MAX_WORKSPACE_FILES = 100_000
/** …or more bytes than this. */
export const MAX_WORKSPACE_BYTES = 4 * 1024 ** 3
/** One directory's message (about 60 bytes an entry): a directory over this is refused. */
export const MAX_DIRECTORY_BYTES = 4 * 1024 * 1024
/** Longest path (relative to the workspace root) and path component. */
export const MAX_PATH_BYTES = 4096
export const MAX_NAME_BYTES = 255
/** Longest symlink target. */
export const MAX_SYMLINK_BYTES = 4096

/** A change set larger than this is refused by the origin (files, bytes). */
export const MAX_CHANGE_FILES = 100_000
export const MAX_CHANGE_BYTES = 4 * 1024 ** 3

/** Files outside the workspace named in argv or --input, at most. */
export const MAX_EXTRA_FILES = 1000

/**
 * Racy-git rule: a file whose mtime was this close to the moment it was
 * hashed may have been written again within the same timestamp tick; it is
 * hashed again the next time its directory is looked at.
 */
export const RACY_MS = 2_000
/** A workspace nobody ran a job in for this long loses its watchers and its cached tree. */
export const WATCH_IDLE_MS = 10 * 60_000
/** Workspaces kept in memory at once (least recently used dropped). */
export const MAX_CACHED_WORKSPACES = 16

/** The target's content-addressed store: default size cap (least recently used blobs go first). */
export const DEFAULT_STORE_BYTES = 8 * 1024 ** 3
/** Mirrors of origins' workspaces kept on a target (least recently used removed). */
export const MAX_MIRRORS = 32

/** A first sync over this many bytes reports progress to a terminal. */
export const PROGRESS_MIN_BYTES = 4 * 1024 * 1024
/** …at most this often. */
export const PROGRESS_EVERY_MS = 200

/** The origin remembers, per target, this many directory digests the target confirmed. */
export const MAX_REMEMBERED_DIRECTORIES = 500_000

/**
 * Never part of a workspace, whatever .kappaignore says (relative to the
 * user's home): credentials a job has no business reading elsewhere. The
 * node's own home (its identity key) is left out too.
 */
export const CREDENTIAL_DIRS = ['.ssh', '.gnupg', '.aws', '.azure', '.kube', '.docker', '.netrc', '.config/gcloud', '.password-store', '.kappa']

/** A marker file: its directory is a workspace root. */
export const WORKSPACE_MARKER = '.kappa-workspace'
/** gitignore-syntax exclusions at the root of a workspace. */
export const IGNORE_FILE = '.kappaignore'

/**
 * Environment variables that describe the origin's session, not the job's
 * world: they do not travel (a job asking for one gets it with --env NAME).
 * A trailing `*` matches a prefix.
 */
export const HOST_ENV = [
  'DISPLAY', 'WAYLAND_*', 'XAUTHORITY', 'XDG_RUNTIME_DIR', 'XDG_SESSION_*', 'XDG_SEAT*', 'XDG_VTNR',
  'DBUS_*', 'SSH_*', 'GPG_AGENT_INFO', 'GNUPGHOME', 'KRB5CCNAME', 'SESSION_MANAGER', 'ICEAUTHORITY',
  'WINDOWID', 'TMUX', 'TMUX_PANE', 'STY', 'KAPPA_*', 'INVOCATION_ID', 'JOURNAL_STREAM', 'MANAGERPID',
  'NOTIFY_SOCKET', 'LISTEN_*', 'SYSTEMD_*', 'MAIL', 'HOME', 'PWD', 'OLDPWD', 'TMPDIR', 'SHLVL', '_'
]

/**
 * kappa's own temporary files in a user's tree: a result is written to
 * `.kappa-<hex>.part` beside its place and renamed there a moment later.
 * The scanner never describes them.
 */
export const TEMPORARY_NAME = /^\.kappa-[0-9a-f]+\.part$/
export function temporaryName (): string {
  return `.kappa-${randomBytes(6).toString('hex')}.part`
}

/**
 * Files up to this size are written with synchronous calls (a source tree's
 * usual file): an fs.promises call costs a thread-pool round trip, and a
 * first sync of 5000 small files spent ~10 CPU s on the target in them.
 * Larger files keep the asynchronous path, so the event loop never waits
 * on a long copy.
 */
export const SMALL_FILE_BYTES = 256 * 1024
/**
 * The origin keeps what the small files it hashed last held, up to this many
 * bytes (blob.ts RecentContent says why): a make -j burst's temporaries and
 * objects are a few KiB to a few hundred each.
 */
export const RECENT_CONTENT_BYTES = 16 * 1024 * 1024
/** What one kept entry is charged beyond its bytes (the Buffer and the map entry) */
export const RECENT_CONTENT_ENTRY_BYTES = 160
/** The synchronous path yields to the event loop after this many files. */
export const SMALL_FILES_PER_TURN = 64
