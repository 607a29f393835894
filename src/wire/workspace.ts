import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface FileNode {
  name: string
  digest: Uint8Array<ArrayBuffer>
  size: bigint
  mode: number
  mtimeMs: bigint
}

export namespace FileNode {
  let _codec: Codec<FileNode>

  export const codec = (): Codec<FileNode> => {
    if (_codec == null) {
      _codec = message<FileNode>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if ((obj.digest != null && obj.digest.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.digest)
        }

        if ((obj.size != null && obj.size !== 0n)) {
          w.uint32(24)
          w.uint64(obj.size)
        }

        if ((obj.mode != null && obj.mode !== 0)) {
          w.uint32(32)
          w.uint32(obj.mode)
        }

        if ((obj.mtimeMs != null && obj.mtimeMs !== 0n)) {
          w.uint32(40)
          w.uint64(obj.mtimeMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          name: '',
          digest: uint8ArrayAlloc(0),
          size: 0n,
          mode: 0,
          mtimeMs: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.name = reader.string()
              break
            }
            case 2: {
              obj.digest = reader.bytes()
              break
            }
            case 3: {
              obj.size = reader.uint64()
              break
            }
            case 4: {
              obj.mode = reader.uint32()
              break
            }
            case 5: {
              obj.mtimeMs = reader.uint64()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.digest`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.size`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.mode`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.mtimeMs`,
                value: reader.uint64()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface FileNodeNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface FileNodeDigestFieldEvent {
    field: '$.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FileNodeSizeFieldEvent {
    field: '$.size'
    value: bigint
  }

  export interface FileNodeModeFieldEvent {
    field: '$.mode'
    value: number
  }

  export interface FileNodeMtimeMsFieldEvent {
    field: '$.mtimeMs'
    value: bigint
  }

  export function encode (obj: Partial<FileNode>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, FileNode.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FileNode>): FileNode {
    return decodeMessage(buf, FileNode.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FileNode>): Generator<FileNodeNameFieldEvent | FileNodeDigestFieldEvent | FileNodeSizeFieldEvent | FileNodeModeFieldEvent | FileNodeMtimeMsFieldEvent> {
    return streamMessage(buf, FileNode.codec(), opts)
  }
}

export interface DirectoryNode {
  name: string
  digest: Uint8Array<ArrayBuffer>
  mode: number
}

export namespace DirectoryNode {
  let _codec: Codec<DirectoryNode>

  export const codec = (): Codec<DirectoryNode> => {
    if (_codec == null) {
      _codec = message<DirectoryNode>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if ((obj.digest != null && obj.digest.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.digest)
        }

        if ((obj.mode != null && obj.mode !== 0)) {
          w.uint32(24)
          w.uint32(obj.mode)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          name: '',
          digest: uint8ArrayAlloc(0),
          mode: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.name = reader.string()
              break
            }
            case 2: {
              obj.digest = reader.bytes()
              break
            }
            case 3: {
              obj.mode = reader.uint32()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.digest`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.mode`,
                value: reader.uint32()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface DirectoryNodeNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface DirectoryNodeDigestFieldEvent {
    field: '$.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface DirectoryNodeModeFieldEvent {
    field: '$.mode'
    value: number
  }

  export function encode (obj: Partial<DirectoryNode>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, DirectoryNode.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DirectoryNode>): DirectoryNode {
    return decodeMessage(buf, DirectoryNode.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DirectoryNode>): Generator<DirectoryNodeNameFieldEvent | DirectoryNodeDigestFieldEvent | DirectoryNodeModeFieldEvent> {
    return streamMessage(buf, DirectoryNode.codec(), opts)
  }
}

export interface SymlinkNode {
  name: string
  target: string
}

export namespace SymlinkNode {
  let _codec: Codec<SymlinkNode>

  export const codec = (): Codec<SymlinkNode> => {
    if (_codec == null) {
      _codec = message<SymlinkNode>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if ((obj.target != null && obj.target !== '')) {
          w.uint32(18)
          w.string(obj.target)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          name: '',
          target: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.name = reader.string()
              break
            }
            case 2: {
              obj.target = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.target`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface SymlinkNodeNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface SymlinkNodeTargetFieldEvent {
    field: '$.target'
    value: string
  }

  export function encode (obj: Partial<SymlinkNode>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SymlinkNode.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SymlinkNode>): SymlinkNode {
    return decodeMessage(buf, SymlinkNode.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SymlinkNode>): Generator<SymlinkNodeNameFieldEvent | SymlinkNodeTargetFieldEvent> {
    return streamMessage(buf, SymlinkNode.codec(), opts)
  }
}

export interface Directory {
  files: FileNode[]
  directories: DirectoryNode[]
  symlinks: SymlinkNode[]
}

export namespace Directory {
  let _codec: Codec<Directory>

  export const codec = (): Codec<Directory> => {
    if (_codec == null) {
      _codec = message<Directory>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.files != null && obj.files.length > 0) {
          for (const value of obj.files) {
            w.uint32(10)
            FileNode.codec().encode(value, w)
          }
        }

        if (obj.directories != null && obj.directories.length > 0) {
          for (const value of obj.directories) {
            w.uint32(18)
            DirectoryNode.codec().encode(value, w)
          }
        }

        if (obj.symlinks != null && obj.symlinks.length > 0) {
          for (const value of obj.symlinks) {
            w.uint32(26)
            SymlinkNode.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          files: [],
          directories: [],
          symlinks: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.files != null && obj.files.length === opts.limits.files) {
                throw new MaxLengthError('Decode error - repeated field "files" had too many elements')
              }

              obj.files.push(FileNode.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.files$
              }))
              break
            }
            case 2: {
              if (opts.limits?.directories != null && obj.directories.length === opts.limits.directories) {
                throw new MaxLengthError('Decode error - repeated field "directories" had too many elements')
              }

              obj.directories.push(DirectoryNode.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.directories$
              }))
              break
            }
            case 3: {
              if (opts.limits?.symlinks != null && obj.symlinks.length === opts.limits.symlinks) {
                throw new MaxLengthError('Decode error - repeated field "symlinks" had too many elements')
              }

              obj.symlinks.push(SymlinkNode.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.symlinks$
              }))
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          files: 0,
          directories: 0,
          symlinks: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.files != null && obj.files === opts.limits.files) {
                throw new MaxLengthError('Streaming decode error - repeated field "files" had too many elements')
              }

              for (const evt of FileNode.codec().stream(reader, reader.uint32(), `${prefix}.files[]`, {
                limits: opts.limits?.files$
              })) {
                yield {
                  ...evt,
                  index: obj.files
                }
              }

              obj.files++

              break
            }
            case 2: {
              if (opts.limits?.directories != null && obj.directories === opts.limits.directories) {
                throw new MaxLengthError('Streaming decode error - repeated field "directories" had too many elements')
              }

              for (const evt of DirectoryNode.codec().stream(reader, reader.uint32(), `${prefix}.directories[]`, {
                limits: opts.limits?.directories$
              })) {
                yield {
                  ...evt,
                  index: obj.directories
                }
              }

              obj.directories++

              break
            }
            case 3: {
              if (opts.limits?.symlinks != null && obj.symlinks === opts.limits.symlinks) {
                throw new MaxLengthError('Streaming decode error - repeated field "symlinks" had too many elements')
              }

              for (const evt of SymlinkNode.codec().stream(reader, reader.uint32(), `${prefix}.symlinks[]`, {
                limits: opts.limits?.symlinks$
              })) {
                yield {
                  ...evt,
                  index: obj.symlinks
                }
              }

              obj.symlinks++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface DirectoryFilesNameFieldEvent {
    field: '$.files[].name'
    value: string
    index: number
  }

  export interface DirectoryFilesDigestFieldEvent {
    field: '$.files[].digest'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface DirectoryFilesSizeFieldEvent {
    field: '$.files[].size'
    value: bigint
    index: number
  }

  export interface DirectoryFilesModeFieldEvent {
    field: '$.files[].mode'
    value: number
    index: number
  }

  export interface DirectoryFilesMtimeMsFieldEvent {
    field: '$.files[].mtimeMs'
    value: bigint
    index: number
  }

  export interface DirectoryDirectoriesNameFieldEvent {
    field: '$.directories[].name'
    value: string
    index: number
  }

  export interface DirectoryDirectoriesDigestFieldEvent {
    field: '$.directories[].digest'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface DirectoryDirectoriesModeFieldEvent {
    field: '$.directories[].mode'
    value: number
    index: number
  }

  export interface DirectorySymlinksNameFieldEvent {
    field: '$.symlinks[].name'
    value: string
    index: number
  }

  export interface DirectorySymlinksTargetFieldEvent {
    field: '$.symlinks[].target'
    value: string
    index: number
  }

  export function encode (obj: Partial<Directory>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Directory.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Directory>): Directory {
    return decodeMessage(buf, Directory.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Directory>): Generator<DirectoryFilesNameFieldEvent | DirectoryFilesDigestFieldEvent | DirectoryFilesSizeFieldEvent | DirectoryFilesModeFieldEvent | DirectoryFilesMtimeMsFieldEvent | DirectoryDirectoriesNameFieldEvent | DirectoryDirectoriesDigestFieldEvent | DirectoryDirectoriesModeFieldEvent | DirectorySymlinksNameFieldEvent | DirectorySymlinksTargetFieldEvent> {
    return streamMessage(buf, Directory.codec(), opts)
  }
}
