import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface ToolchainFile {
  path: string
  digest: Uint8Array<ArrayBuffer>
  size: bigint
  mode: number
  header: boolean
}

export namespace ToolchainFile {
  let _codec: Codec<ToolchainFile>

  export const codec = (): Codec<ToolchainFile> => {
    if (_codec == null) {
      _codec = message<ToolchainFile>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.path != null && obj.path !== '')) {
          w.uint32(10)
          w.string(obj.path)
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

        if ((obj.header != null && obj.header !== false)) {
          w.uint32(40)
          w.bool(obj.header)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          path: '',
          digest: uint8ArrayAlloc(0),
          size: 0n,
          mode: 0,
          header: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.path = reader.string()
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
              obj.header = reader.bool()
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
                field: `${prefix}.path`,
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
                field: `${prefix}.header`,
                value: reader.bool()
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

  export interface ToolchainFilePathFieldEvent {
    field: '$.path'
    value: string
  }

  export interface ToolchainFileDigestFieldEvent {
    field: '$.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ToolchainFileSizeFieldEvent {
    field: '$.size'
    value: bigint
  }

  export interface ToolchainFileModeFieldEvent {
    field: '$.mode'
    value: number
  }

  export interface ToolchainFileHeaderFieldEvent {
    field: '$.header'
    value: boolean
  }

  export function encode (obj: Partial<ToolchainFile>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ToolchainFile.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ToolchainFile>): ToolchainFile {
    return decodeMessage(buf, ToolchainFile.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ToolchainFile>): Generator<ToolchainFilePathFieldEvent | ToolchainFileDigestFieldEvent | ToolchainFileSizeFieldEvent | ToolchainFileModeFieldEvent | ToolchainFileHeaderFieldEvent> {
    return streamMessage(buf, ToolchainFile.codec(), opts)
  }
}

export interface Toolchain {
  files: ToolchainFile[]
}

export namespace Toolchain {
  let _codec: Codec<Toolchain>

  export const codec = (): Codec<Toolchain> => {
    if (_codec == null) {
      _codec = message<Toolchain>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.files != null && obj.files.length > 0) {
          for (const value of obj.files) {
            w.uint32(10)
            ToolchainFile.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          files: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.files != null && obj.files.length === opts.limits.files) {
                throw new MaxLengthError('Decode error - repeated field "files" had too many elements')
              }

              obj.files.push(ToolchainFile.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.files$
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
          files: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.files != null && obj.files === opts.limits.files) {
                throw new MaxLengthError('Streaming decode error - repeated field "files" had too many elements')
              }

              for (const evt of ToolchainFile.codec().stream(reader, reader.uint32(), `${prefix}.files[]`, {
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

  export interface ToolchainFilesPathFieldEvent {
    field: '$.files[].path'
    value: string
    index: number
  }

  export interface ToolchainFilesDigestFieldEvent {
    field: '$.files[].digest'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface ToolchainFilesSizeFieldEvent {
    field: '$.files[].size'
    value: bigint
    index: number
  }

  export interface ToolchainFilesModeFieldEvent {
    field: '$.files[].mode'
    value: number
    index: number
  }

  export interface ToolchainFilesHeaderFieldEvent {
    field: '$.files[].header'
    value: boolean
    index: number
  }

  export function encode (obj: Partial<Toolchain>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Toolchain.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Toolchain>): Toolchain {
    return decodeMessage(buf, Toolchain.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Toolchain>): Generator<ToolchainFilesPathFieldEvent | ToolchainFilesDigestFieldEvent | ToolchainFilesSizeFieldEvent | ToolchainFilesModeFieldEvent | ToolchainFilesHeaderFieldEvent> {
    return streamMessage(buf, Toolchain.codec(), opts)
  }
}
