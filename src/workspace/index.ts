/**
 * The workspace a remote job sees (docs/workspace.md): on the origin, the
 * workspace root, its Merkle tree kept warm by watchers, and the change set
 * of a job applied safely; on the target, the content-addressed store, the
 * per-workspace mirror, the job's view of it (overlay or copy) and the job's
 * change set. Pure of libp2p: the migrate protocol moves what these produce.
 */
export { findWorkspaceRoot, isInside } from './root.js'
export { WorkspaceScanner, type Snapshot, type WorkspaceScannerInit } from './scan.js'
export { ContentStore, IncomingBlob } from './store.js'
export { Mirror, type MirrorOwner, type MirrorUpdate } from './mirror.js'
export { mountOverlay, mountReadOnlyOverlay, unmount, copyView, releaseView, overlayWorks, sweepMounts, mountsUnder, type JobView } from './view.js'
export { ToolchainLayers, layerPlacement, LAYER_DIRS, type ToolchainLayer, type LayerFile } from './toolchain-layer.js'
export { computeChanges, hashFile, type WorkspaceChange, type ChangeSet } from './changes.js'
export { ChangeApplier, ChangeRefused, BlobSink, type IncomingChange, type ApplyContext, type Written } from './apply.js'
export { sendVerified, sendHeld, ChangedWhileSent } from './blob.js'
export { jobEnvironment, safeVariable } from './env.js'
export { encodeDirectory, decodeDirectory, entriesOf, lookup, hex, unhex, sha256, EMPTY_BLOB, LruMap, type Hex, type TreeEntry, type DirectorySource } from './tree.js'
export * from './constants.js'
