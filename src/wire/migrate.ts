import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface EnvVar {
  name: string
  value: string
}

export namespace EnvVar {
  let _codec: Codec<EnvVar>

  export const codec = (): Codec<EnvVar> => {
    if (_codec == null) {
      _codec = message<EnvVar>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if ((obj.value != null && obj.value !== '')) {
          w.uint32(18)
          w.string(obj.value)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          name: '',
          value: ''
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
              obj.value = reader.string()
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
                field: `${prefix}.value`,
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

  export interface EnvVarNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface EnvVarValueFieldEvent {
    field: '$.value'
    value: string
  }

  export function encode (obj: Partial<EnvVar>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, EnvVar.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<EnvVar>): EnvVar {
    return decodeMessage(buf, EnvVar.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<EnvVar>): Generator<EnvVarNameFieldEvent | EnvVarValueFieldEvent> {
    return streamMessage(buf, EnvVar.codec(), opts)
  }
}

export interface Executable {
  path: string
  digest: Uint8Array<ArrayBuffer>
  size: bigint
  mode: number
  inWorkspace: boolean
  arch: string
  interpreter: string
  links: Link[]
}

export namespace Executable {
  let _codec: Codec<Executable>

  export const codec = (): Codec<Executable> => {
    if (_codec == null) {
      _codec = message<Executable>((obj, w, opts = {}) => {
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

        if ((obj.inWorkspace != null && obj.inWorkspace !== false)) {
          w.uint32(40)
          w.bool(obj.inWorkspace)
        }

        if ((obj.arch != null && obj.arch !== '')) {
          w.uint32(50)
          w.string(obj.arch)
        }

        if ((obj.interpreter != null && obj.interpreter !== '')) {
          w.uint32(58)
          w.string(obj.interpreter)
        }

        if (obj.links != null && obj.links.length > 0) {
          for (const value of obj.links) {
            w.uint32(66)
            Link.codec().encode(value, w)
          }
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
          inWorkspace: false,
          arch: '',
          interpreter: '',
          links: []
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
              obj.inWorkspace = reader.bool()
              break
            }
            case 6: {
              obj.arch = reader.string()
              break
            }
            case 7: {
              obj.interpreter = reader.string()
              break
            }
            case 8: {
              if (opts.limits?.links != null && obj.links.length === opts.limits.links) {
                throw new MaxLengthError('Decode error - repeated field "links" had too many elements')
              }

              obj.links.push(Link.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.links$
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
          links: 0
        }

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
                field: `${prefix}.inWorkspace`,
                value: reader.bool()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.arch`,
                value: reader.string()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.interpreter`,
                value: reader.string()
              }
              break
            }
            case 8: {
              if (opts.limits?.links != null && obj.links === opts.limits.links) {
                throw new MaxLengthError('Streaming decode error - repeated field "links" had too many elements')
              }

              for (const evt of Link.codec().stream(reader, reader.uint32(), `${prefix}.links[]`, {
                limits: opts.limits?.links$
              })) {
                yield {
                  ...evt,
                  index: obj.links
                }
              }

              obj.links++

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

  export interface ExecutablePathFieldEvent {
    field: '$.path'
    value: string
  }

  export interface ExecutableDigestFieldEvent {
    field: '$.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ExecutableSizeFieldEvent {
    field: '$.size'
    value: bigint
  }

  export interface ExecutableModeFieldEvent {
    field: '$.mode'
    value: number
  }

  export interface ExecutableInWorkspaceFieldEvent {
    field: '$.inWorkspace'
    value: boolean
  }

  export interface ExecutableArchFieldEvent {
    field: '$.arch'
    value: string
  }

  export interface ExecutableInterpreterFieldEvent {
    field: '$.interpreter'
    value: string
  }

  export interface ExecutableLinksPathFieldEvent {
    field: '$.links[].path'
    value: string
    index: number
  }

  export interface ExecutableLinksTargetFieldEvent {
    field: '$.links[].target'
    value: string
    index: number
  }

  export function encode (obj: Partial<Executable>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Executable.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Executable>): Executable {
    return decodeMessage(buf, Executable.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Executable>): Generator<ExecutablePathFieldEvent | ExecutableDigestFieldEvent | ExecutableSizeFieldEvent | ExecutableModeFieldEvent | ExecutableInWorkspaceFieldEvent | ExecutableArchFieldEvent | ExecutableInterpreterFieldEvent | ExecutableLinksPathFieldEvent | ExecutableLinksTargetFieldEvent> {
    return streamMessage(buf, Executable.codec(), opts)
  }
}

export interface Link {
  path: string
  target: string
}

export namespace Link {
  let _codec: Codec<Link>

  export const codec = (): Codec<Link> => {
    if (_codec == null) {
      _codec = message<Link>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.path != null && obj.path !== '')) {
          w.uint32(10)
          w.string(obj.path)
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
          path: '',
          target: ''
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
                field: `${prefix}.path`,
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

  export interface LinkPathFieldEvent {
    field: '$.path'
    value: string
  }

  export interface LinkTargetFieldEvent {
    field: '$.target'
    value: string
  }

  export function encode (obj: Partial<Link>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Link.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Link>): Link {
    return decodeMessage(buf, Link.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Link>): Generator<LinkPathFieldEvent | LinkTargetFieldEvent> {
    return streamMessage(buf, Link.codec(), opts)
  }
}

export interface ExtraFile {
  path: string
  digest: Uint8Array<ArrayBuffer>
  size: bigint
  mode: number
}

export namespace ExtraFile {
  let _codec: Codec<ExtraFile>

  export const codec = (): Codec<ExtraFile> => {
    if (_codec == null) {
      _codec = message<ExtraFile>((obj, w, opts = {}) => {
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

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          path: '',
          digest: uint8ArrayAlloc(0),
          size: 0n,
          mode: 0
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

  export interface ExtraFilePathFieldEvent {
    field: '$.path'
    value: string
  }

  export interface ExtraFileDigestFieldEvent {
    field: '$.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ExtraFileSizeFieldEvent {
    field: '$.size'
    value: bigint
  }

  export interface ExtraFileModeFieldEvent {
    field: '$.mode'
    value: number
  }

  export function encode (obj: Partial<ExtraFile>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ExtraFile.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ExtraFile>): ExtraFile {
    return decodeMessage(buf, ExtraFile.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ExtraFile>): Generator<ExtraFilePathFieldEvent | ExtraFileDigestFieldEvent | ExtraFileSizeFieldEvent | ExtraFileModeFieldEvent> {
    return streamMessage(buf, ExtraFile.codec(), opts)
  }
}

export interface Job {
  ticket: Uint8Array<ArrayBuffer>
  argv: string[]
  cwd: string
  env: EnvVar[]
  workspace: string
  rootDigest: Uint8Array<ArrayBuffer>
  rootMode: number
  treeFrames: number
  treeFiles: bigint
  treeBytes: bigint
  exe?: Executable
  extras: ExtraFile[]
  outputs: string[]
  stdin: boolean
  umask: number
  toolchain: Uint8Array<ArrayBuffer>
}

export namespace Job {
  let _codec: Codec<Job>

  export const codec = (): Codec<Job> => {
    if (_codec == null) {
      _codec = message<Job>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.ticket != null && obj.ticket.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.ticket)
        }

        if (obj.argv != null && obj.argv.length > 0) {
          for (const value of obj.argv) {
            w.uint32(18)
            w.string(value)
          }
        }

        if ((obj.cwd != null && obj.cwd !== '')) {
          w.uint32(26)
          w.string(obj.cwd)
        }

        if (obj.env != null && obj.env.length > 0) {
          for (const value of obj.env) {
            w.uint32(34)
            EnvVar.codec().encode(value, w)
          }
        }

        if ((obj.workspace != null && obj.workspace !== '')) {
          w.uint32(42)
          w.string(obj.workspace)
        }

        if ((obj.rootDigest != null && obj.rootDigest.byteLength > 0)) {
          w.uint32(50)
          w.bytes(obj.rootDigest)
        }

        if ((obj.rootMode != null && obj.rootMode !== 0)) {
          w.uint32(56)
          w.uint32(obj.rootMode)
        }

        if ((obj.treeFrames != null && obj.treeFrames !== 0)) {
          w.uint32(64)
          w.uint32(obj.treeFrames)
        }

        if ((obj.treeFiles != null && obj.treeFiles !== 0n)) {
          w.uint32(72)
          w.uint64(obj.treeFiles)
        }

        if ((obj.treeBytes != null && obj.treeBytes !== 0n)) {
          w.uint32(80)
          w.uint64(obj.treeBytes)
        }

        if (obj.exe != null) {
          w.uint32(90)
          Executable.codec().encode(obj.exe, w)
        }

        if (obj.extras != null && obj.extras.length > 0) {
          for (const value of obj.extras) {
            w.uint32(98)
            ExtraFile.codec().encode(value, w)
          }
        }

        if (obj.outputs != null && obj.outputs.length > 0) {
          for (const value of obj.outputs) {
            w.uint32(106)
            w.string(value)
          }
        }

        if ((obj.stdin != null && obj.stdin !== false)) {
          w.uint32(112)
          w.bool(obj.stdin)
        }

        if ((obj.umask != null && obj.umask !== 0)) {
          w.uint32(120)
          w.uint32(obj.umask)
        }

        if ((obj.toolchain != null && obj.toolchain.byteLength > 0)) {
          w.uint32(130)
          w.bytes(obj.toolchain)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          ticket: uint8ArrayAlloc(0),
          argv: [],
          cwd: '',
          env: [],
          workspace: '',
          rootDigest: uint8ArrayAlloc(0),
          rootMode: 0,
          treeFrames: 0,
          treeFiles: 0n,
          treeBytes: 0n,
          extras: [],
          outputs: [],
          stdin: false,
          umask: 0,
          toolchain: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.ticket = reader.bytes()
              break
            }
            case 2: {
              if (opts.limits?.argv != null && obj.argv.length === opts.limits.argv) {
                throw new MaxLengthError('Decode error - repeated field "argv" had too many elements')
              }

              obj.argv.push(reader.string())
              break
            }
            case 3: {
              obj.cwd = reader.string()
              break
            }
            case 4: {
              if (opts.limits?.env != null && obj.env.length === opts.limits.env) {
                throw new MaxLengthError('Decode error - repeated field "env" had too many elements')
              }

              obj.env.push(EnvVar.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.env$
              }))
              break
            }
            case 5: {
              obj.workspace = reader.string()
              break
            }
            case 6: {
              obj.rootDigest = reader.bytes()
              break
            }
            case 7: {
              obj.rootMode = reader.uint32()
              break
            }
            case 8: {
              obj.treeFrames = reader.uint32()
              break
            }
            case 9: {
              obj.treeFiles = reader.uint64()
              break
            }
            case 10: {
              obj.treeBytes = reader.uint64()
              break
            }
            case 11: {
              obj.exe = Executable.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.exe
              })
              break
            }
            case 12: {
              if (opts.limits?.extras != null && obj.extras.length === opts.limits.extras) {
                throw new MaxLengthError('Decode error - repeated field "extras" had too many elements')
              }

              obj.extras.push(ExtraFile.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.extras$
              }))
              break
            }
            case 13: {
              if (opts.limits?.outputs != null && obj.outputs.length === opts.limits.outputs) {
                throw new MaxLengthError('Decode error - repeated field "outputs" had too many elements')
              }

              obj.outputs.push(reader.string())
              break
            }
            case 14: {
              obj.stdin = reader.bool()
              break
            }
            case 15: {
              obj.umask = reader.uint32()
              break
            }
            case 16: {
              obj.toolchain = reader.bytes()
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
          argv: 0,
          env: 0,
          extras: 0,
          outputs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.ticket`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              if (opts.limits?.argv != null && obj.argv === opts.limits.argv) {
                throw new MaxLengthError('Streaming decode error - repeated field "argv" had too many elements')
              }

              yield {
                field: `${prefix}.argv[]`,
                index: obj.argv,
                value: reader.string()
              }

              obj.argv++

              break
            }
            case 3: {
              yield {
                field: `${prefix}.cwd`,
                value: reader.string()
              }
              break
            }
            case 4: {
              if (opts.limits?.env != null && obj.env === opts.limits.env) {
                throw new MaxLengthError('Streaming decode error - repeated field "env" had too many elements')
              }

              for (const evt of EnvVar.codec().stream(reader, reader.uint32(), `${prefix}.env[]`, {
                limits: opts.limits?.env$
              })) {
                yield {
                  ...evt,
                  index: obj.env
                }
              }

              obj.env++

              break
            }
            case 5: {
              yield {
                field: `${prefix}.workspace`,
                value: reader.string()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.rootDigest`,
                value: reader.bytes()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.rootMode`,
                value: reader.uint32()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.treeFrames`,
                value: reader.uint32()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.treeFiles`,
                value: reader.uint64()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.treeBytes`,
                value: reader.uint64()
              }
              break
            }
            case 11: {
              yield * Executable.codec().stream(reader, reader.uint32(), `${prefix}.exe`, {
                limits: opts.limits?.exe
              })

              break
            }
            case 12: {
              if (opts.limits?.extras != null && obj.extras === opts.limits.extras) {
                throw new MaxLengthError('Streaming decode error - repeated field "extras" had too many elements')
              }

              for (const evt of ExtraFile.codec().stream(reader, reader.uint32(), `${prefix}.extras[]`, {
                limits: opts.limits?.extras$
              })) {
                yield {
                  ...evt,
                  index: obj.extras
                }
              }

              obj.extras++

              break
            }
            case 13: {
              if (opts.limits?.outputs != null && obj.outputs === opts.limits.outputs) {
                throw new MaxLengthError('Streaming decode error - repeated field "outputs" had too many elements')
              }

              yield {
                field: `${prefix}.outputs[]`,
                index: obj.outputs,
                value: reader.string()
              }

              obj.outputs++

              break
            }
            case 14: {
              yield {
                field: `${prefix}.stdin`,
                value: reader.bool()
              }
              break
            }
            case 15: {
              yield {
                field: `${prefix}.umask`,
                value: reader.uint32()
              }
              break
            }
            case 16: {
              yield {
                field: `${prefix}.toolchain`,
                value: reader.bytes()
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

  export interface JobTicketFieldEvent {
    field: '$.ticket'
    value: Uint8Array<ArrayBuffer>
  }

  export interface JobArgvFieldEvent {
    field: '$.argv[]'
    index: number
    value: string
  }

  export interface JobCwdFieldEvent {
    field: '$.cwd'
    value: string
  }

  export interface JobEnvNameFieldEvent {
    field: '$.env[].name'
    value: string
    index: number
  }

  export interface JobEnvValueFieldEvent {
    field: '$.env[].value'
    value: string
    index: number
  }

  export interface JobWorkspaceFieldEvent {
    field: '$.workspace'
    value: string
  }

  export interface JobRootDigestFieldEvent {
    field: '$.rootDigest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface JobRootModeFieldEvent {
    field: '$.rootMode'
    value: number
  }

  export interface JobTreeFramesFieldEvent {
    field: '$.treeFrames'
    value: number
  }

  export interface JobTreeFilesFieldEvent {
    field: '$.treeFiles'
    value: bigint
  }

  export interface JobTreeBytesFieldEvent {
    field: '$.treeBytes'
    value: bigint
  }

  export interface JobExePathFieldEvent {
    field: '$.exe.path'
    value: string
  }

  export interface JobExeDigestFieldEvent {
    field: '$.exe.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface JobExeSizeFieldEvent {
    field: '$.exe.size'
    value: bigint
  }

  export interface JobExeModeFieldEvent {
    field: '$.exe.mode'
    value: number
  }

  export interface JobExeInWorkspaceFieldEvent {
    field: '$.exe.inWorkspace'
    value: boolean
  }

  export interface JobExeArchFieldEvent {
    field: '$.exe.arch'
    value: string
  }

  export interface JobExeInterpreterFieldEvent {
    field: '$.exe.interpreter'
    value: string
  }

  export interface JobExeLinksPathFieldEvent {
    field: '$.exe.links[].path'
    value: string
    index: number
  }

  export interface JobExeLinksTargetFieldEvent {
    field: '$.exe.links[].target'
    value: string
    index: number
  }

  export interface JobExtrasPathFieldEvent {
    field: '$.extras[].path'
    value: string
    index: number
  }

  export interface JobExtrasDigestFieldEvent {
    field: '$.extras[].digest'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface JobExtrasSizeFieldEvent {
    field: '$.extras[].size'
    value: bigint
    index: number
  }

  export interface JobExtrasModeFieldEvent {
    field: '$.extras[].mode'
    value: number
    index: number
  }

  export interface JobOutputsFieldEvent {
    field: '$.outputs[]'
    index: number
    value: string
  }

  export interface JobStdinFieldEvent {
    field: '$.stdin'
    value: boolean
  }

  export interface JobUmaskFieldEvent {
    field: '$.umask'
    value: number
  }

  export interface JobToolchainFieldEvent {
    field: '$.toolchain'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Job>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Job.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Job>): Job {
    return decodeMessage(buf, Job.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Job>): Generator<JobTicketFieldEvent | JobArgvFieldEvent | JobCwdFieldEvent | JobEnvNameFieldEvent | JobEnvValueFieldEvent | JobWorkspaceFieldEvent | JobRootDigestFieldEvent | JobRootModeFieldEvent | JobTreeFramesFieldEvent | JobTreeFilesFieldEvent | JobTreeBytesFieldEvent | JobExePathFieldEvent | JobExeDigestFieldEvent | JobExeSizeFieldEvent | JobExeModeFieldEvent | JobExeInWorkspaceFieldEvent | JobExeArchFieldEvent | JobExeInterpreterFieldEvent | JobExeLinksPathFieldEvent | JobExeLinksTargetFieldEvent | JobExtrasPathFieldEvent | JobExtrasDigestFieldEvent | JobExtrasSizeFieldEvent | JobExtrasModeFieldEvent | JobOutputsFieldEvent | JobStdinFieldEvent | JobUmaskFieldEvent | JobToolchainFieldEvent> {
    return streamMessage(buf, Job.codec(), opts)
  }
}

export interface BlobHeader {
  digest: Uint8Array<ArrayBuffer>
  size: bigint
}

export namespace BlobHeader {
  let _codec: Codec<BlobHeader>

  export const codec = (): Codec<BlobHeader> => {
    if (_codec == null) {
      _codec = message<BlobHeader>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.digest != null && obj.digest.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.digest)
        }

        if ((obj.size != null && obj.size !== 0n)) {
          w.uint32(16)
          w.uint64(obj.size)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          digest: uint8ArrayAlloc(0),
          size: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.digest = reader.bytes()
              break
            }
            case 2: {
              obj.size = reader.uint64()
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
                field: `${prefix}.digest`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.size`,
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

  export interface BlobHeaderDigestFieldEvent {
    field: '$.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface BlobHeaderSizeFieldEvent {
    field: '$.size'
    value: bigint
  }

  export function encode (obj: Partial<BlobHeader>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, BlobHeader.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BlobHeader>): BlobHeader {
    return decodeMessage(buf, BlobHeader.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BlobHeader>): Generator<BlobHeaderDigestFieldEvent | BlobHeaderSizeFieldEvent> {
    return streamMessage(buf, BlobHeader.codec(), opts)
  }
}

export interface Change {
  kind: Change.Kind
  path: string
  digest: Uint8Array<ArrayBuffer>
  size: bigint
  mode: number
  target: string
}

export namespace Change {
  export enum Kind {
    UNSPECIFIED = 'UNSPECIFIED',
    FILE = 'FILE',
    SYMLINK = 'SYMLINK',
    DIRECTORY = 'DIRECTORY',
    DELETE = 'DELETE',
    MODE = 'MODE'
  }

  enum __KindValues {
    UNSPECIFIED = 0,
    FILE = 1,
    SYMLINK = 2,
    DIRECTORY = 3,
    DELETE = 4,
    MODE = 5
  }

  export namespace Kind {
    export const codec = (): Codec<Kind> => {
      return enumeration<Kind>(__KindValues)
    }
  }

  let _codec: Codec<Change>

  export const codec = (): Codec<Change> => {
    if (_codec == null) {
      _codec = message<Change>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.kind != null && __KindValues[obj.kind] !== 0) {
          w.uint32(8)
          Change.Kind.codec().encode(obj.kind, w)
        }

        if ((obj.path != null && obj.path !== '')) {
          w.uint32(18)
          w.string(obj.path)
        }

        if ((obj.digest != null && obj.digest.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.digest)
        }

        if ((obj.size != null && obj.size !== 0n)) {
          w.uint32(32)
          w.uint64(obj.size)
        }

        if ((obj.mode != null && obj.mode !== 0)) {
          w.uint32(40)
          w.uint32(obj.mode)
        }

        if ((obj.target != null && obj.target !== '')) {
          w.uint32(50)
          w.string(obj.target)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          kind: Kind.UNSPECIFIED,
          path: '',
          digest: uint8ArrayAlloc(0),
          size: 0n,
          mode: 0,
          target: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.kind = Change.Kind.codec().decode(reader)
              break
            }
            case 2: {
              obj.path = reader.string()
              break
            }
            case 3: {
              obj.digest = reader.bytes()
              break
            }
            case 4: {
              obj.size = reader.uint64()
              break
            }
            case 5: {
              obj.mode = reader.uint32()
              break
            }
            case 6: {
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
                field: `${prefix}.kind`,
                value: Change.Kind.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.path`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.digest`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.size`,
                value: reader.uint64()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.mode`,
                value: reader.uint32()
              }
              break
            }
            case 6: {
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

  export interface ChangeKindFieldEvent {
    field: '$.kind'
    value: Change.Kind
  }

  export interface ChangePathFieldEvent {
    field: '$.path'
    value: string
  }

  export interface ChangeDigestFieldEvent {
    field: '$.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ChangeSizeFieldEvent {
    field: '$.size'
    value: bigint
  }

  export interface ChangeModeFieldEvent {
    field: '$.mode'
    value: number
  }

  export interface ChangeTargetFieldEvent {
    field: '$.target'
    value: string
  }

  export function encode (obj: Partial<Change>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Change.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Change>): Change {
    return decodeMessage(buf, Change.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Change>): Generator<ChangeKindFieldEvent | ChangePathFieldEvent | ChangeDigestFieldEvent | ChangeSizeFieldEvent | ChangeModeFieldEvent | ChangeTargetFieldEvent> {
    return streamMessage(buf, Change.codec(), opts)
  }
}

export interface ChangeSet {
  changes: Change[]
  last: boolean
  files: bigint
  bytes: bigint
}

export namespace ChangeSet {
  let _codec: Codec<ChangeSet>

  export const codec = (): Codec<ChangeSet> => {
    if (_codec == null) {
      _codec = message<ChangeSet>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.changes != null && obj.changes.length > 0) {
          for (const value of obj.changes) {
            w.uint32(10)
            Change.codec().encode(value, w)
          }
        }

        if ((obj.last != null && obj.last !== false)) {
          w.uint32(16)
          w.bool(obj.last)
        }

        if ((obj.files != null && obj.files !== 0n)) {
          w.uint32(24)
          w.uint64(obj.files)
        }

        if ((obj.bytes != null && obj.bytes !== 0n)) {
          w.uint32(32)
          w.uint64(obj.bytes)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          changes: [],
          last: false,
          files: 0n,
          bytes: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.changes != null && obj.changes.length === opts.limits.changes) {
                throw new MaxLengthError('Decode error - repeated field "changes" had too many elements')
              }

              obj.changes.push(Change.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.changes$
              }))
              break
            }
            case 2: {
              obj.last = reader.bool()
              break
            }
            case 3: {
              obj.files = reader.uint64()
              break
            }
            case 4: {
              obj.bytes = reader.uint64()
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
          changes: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.changes != null && obj.changes === opts.limits.changes) {
                throw new MaxLengthError('Streaming decode error - repeated field "changes" had too many elements')
              }

              for (const evt of Change.codec().stream(reader, reader.uint32(), `${prefix}.changes[]`, {
                limits: opts.limits?.changes$
              })) {
                yield {
                  ...evt,
                  index: obj.changes
                }
              }

              obj.changes++

              break
            }
            case 2: {
              yield {
                field: `${prefix}.last`,
                value: reader.bool()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.files`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.bytes`,
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

  export interface ChangeSetChangesKindFieldEvent {
    field: '$.changes[].kind'
    value: Change.Kind
    index: number
  }

  export interface ChangeSetChangesPathFieldEvent {
    field: '$.changes[].path'
    value: string
    index: number
  }

  export interface ChangeSetChangesDigestFieldEvent {
    field: '$.changes[].digest'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface ChangeSetChangesSizeFieldEvent {
    field: '$.changes[].size'
    value: bigint
    index: number
  }

  export interface ChangeSetChangesModeFieldEvent {
    field: '$.changes[].mode'
    value: number
    index: number
  }

  export interface ChangeSetChangesTargetFieldEvent {
    field: '$.changes[].target'
    value: string
    index: number
  }

  export interface ChangeSetLastFieldEvent {
    field: '$.last'
    value: boolean
  }

  export interface ChangeSetFilesFieldEvent {
    field: '$.files'
    value: bigint
  }

  export interface ChangeSetBytesFieldEvent {
    field: '$.bytes'
    value: bigint
  }

  export function encode (obj: Partial<ChangeSet>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ChangeSet.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ChangeSet>): ChangeSet {
    return decodeMessage(buf, ChangeSet.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ChangeSet>): Generator<ChangeSetChangesKindFieldEvent | ChangeSetChangesPathFieldEvent | ChangeSetChangesDigestFieldEvent | ChangeSetChangesSizeFieldEvent | ChangeSetChangesModeFieldEvent | ChangeSetChangesTargetFieldEvent | ChangeSetLastFieldEvent | ChangeSetFilesFieldEvent | ChangeSetBytesFieldEvent> {
    return streamMessage(buf, ChangeSet.codec(), opts)
  }
}

export interface BulkOffer {
  port: number
  id: Uint8Array<ArrayBuffer>
  secret: Uint8Array<ArrayBuffer>
}

export namespace BulkOffer {
  let _codec: Codec<BulkOffer>

  export const codec = (): Codec<BulkOffer> => {
    if (_codec == null) {
      _codec = message<BulkOffer>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.port != null && obj.port !== 0)) {
          w.uint32(8)
          w.uint32(obj.port)
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.id)
        }

        if ((obj.secret != null && obj.secret.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.secret)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          port: 0,
          id: uint8ArrayAlloc(0),
          secret: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.port = reader.uint32()
              break
            }
            case 2: {
              obj.id = reader.bytes()
              break
            }
            case 3: {
              obj.secret = reader.bytes()
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
                field: `${prefix}.port`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.id`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.secret`,
                value: reader.bytes()
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

  export interface BulkOfferPortFieldEvent {
    field: '$.port'
    value: number
  }

  export interface BulkOfferIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface BulkOfferSecretFieldEvent {
    field: '$.secret'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<BulkOffer>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, BulkOffer.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BulkOffer>): BulkOffer {
    return decodeMessage(buf, BulkOffer.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<BulkOffer>): Generator<BulkOfferPortFieldEvent | BulkOfferIdFieldEvent | BulkOfferSecretFieldEvent> {
    return streamMessage(buf, BulkOffer.codec(), opts)
  }
}

export interface Frame {
  type: Frame.Type
  data: Uint8Array<ArrayBuffer>
  job?: Job
  message: string
  directories: Uint8Array<ArrayBuffer>[]
  missingBlobs: Uint8Array<ArrayBuffer>[]
  missingDirectories: Uint8Array<ArrayBuffer>[]
  blob?: BlobHeader
  signal: string
  code: number
  jobId: string
  bulk?: BulkOffer
  changes?: ChangeSet
  path: string
  toolchain: Uint8Array<ArrayBuffer>
  probe: Uint8Array<ArrayBuffer>
  probeAnswer: Uint8Array<ArrayBuffer>
}

export namespace Frame {
  export enum Type {
    UNSPECIFIED = 'UNSPECIFIED',
    REQUEST = 'REQUEST',
    TREE = 'TREE',
    ACCEPT = 'ACCEPT',
    REFUSE = 'REFUSE',
    BLOB = 'BLOB',
    DATA = 'DATA',
    STARTED = 'STARTED',
    STDIN = 'STDIN',
    STDIN_EOF = 'STDIN_EOF',
    STDOUT = 'STDOUT',
    STDERR = 'STDERR',
    SIGNAL = 'SIGNAL',
    CLOSE_OUTPUT = 'CLOSE_OUTPUT',
    HEARTBEAT = 'HEARTBEAT',
    CHANGES = 'CHANGES',
    OUTPUT = 'OUTPUT',
    EXIT = 'EXIT',
    ERROR = 'ERROR',
    BULK = 'BULK',
    SWITCH = 'SWITCH',
    PROBE = 'PROBE'
  }

  enum __TypeValues {
    UNSPECIFIED = 0,
    REQUEST = 1,
    TREE = 2,
    ACCEPT = 3,
    REFUSE = 4,
    BLOB = 5,
    DATA = 6,
    STARTED = 7,
    STDIN = 8,
    STDIN_EOF = 9,
    STDOUT = 10,
    STDERR = 11,
    SIGNAL = 12,
    CLOSE_OUTPUT = 13,
    HEARTBEAT = 14,
    CHANGES = 15,
    OUTPUT = 16,
    EXIT = 17,
    ERROR = 18,
    BULK = 19,
    SWITCH = 20,
    PROBE = 21
  }

  export namespace Type {
    export const codec = (): Codec<Type> => {
      return enumeration<Type>(__TypeValues)
    }
  }

  let _codec: Codec<Frame>

  export const codec = (): Codec<Frame> => {
    if (_codec == null) {
      _codec = message<Frame>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.type != null && __TypeValues[obj.type] !== 0) {
          w.uint32(8)
          Frame.Type.codec().encode(obj.type, w)
        }

        if ((obj.data != null && obj.data.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.data)
        }

        if (obj.job != null) {
          w.uint32(26)
          Job.codec().encode(obj.job, w)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(34)
          w.string(obj.message)
        }

        if (obj.directories != null && obj.directories.length > 0) {
          for (const value of obj.directories) {
            w.uint32(42)
            w.bytes(value)
          }
        }

        if (obj.missingBlobs != null && obj.missingBlobs.length > 0) {
          for (const value of obj.missingBlobs) {
            w.uint32(50)
            w.bytes(value)
          }
        }

        if (obj.missingDirectories != null && obj.missingDirectories.length > 0) {
          for (const value of obj.missingDirectories) {
            w.uint32(58)
            w.bytes(value)
          }
        }

        if (obj.blob != null) {
          w.uint32(66)
          BlobHeader.codec().encode(obj.blob, w)
        }

        if ((obj.signal != null && obj.signal !== '')) {
          w.uint32(74)
          w.string(obj.signal)
        }

        if ((obj.code != null && obj.code !== 0)) {
          w.uint32(80)
          w.sint32(obj.code)
        }

        if ((obj.jobId != null && obj.jobId !== '')) {
          w.uint32(90)
          w.string(obj.jobId)
        }

        if (obj.bulk != null) {
          w.uint32(98)
          BulkOffer.codec().encode(obj.bulk, w)
        }

        if (obj.changes != null) {
          w.uint32(106)
          ChangeSet.codec().encode(obj.changes, w)
        }

        if ((obj.path != null && obj.path !== '')) {
          w.uint32(114)
          w.string(obj.path)
        }

        if ((obj.toolchain != null && obj.toolchain.byteLength > 0)) {
          w.uint32(122)
          w.bytes(obj.toolchain)
        }

        if ((obj.probe != null && obj.probe.byteLength > 0)) {
          w.uint32(130)
          w.bytes(obj.probe)
        }

        if ((obj.probeAnswer != null && obj.probeAnswer.byteLength > 0)) {
          w.uint32(138)
          w.bytes(obj.probeAnswer)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          type: Type.UNSPECIFIED,
          data: uint8ArrayAlloc(0),
          message: '',
          directories: [],
          missingBlobs: [],
          missingDirectories: [],
          signal: '',
          code: 0,
          jobId: '',
          path: '',
          toolchain: uint8ArrayAlloc(0),
          probe: uint8ArrayAlloc(0),
          probeAnswer: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.type = Frame.Type.codec().decode(reader)
              break
            }
            case 2: {
              obj.data = reader.bytes()
              break
            }
            case 3: {
              obj.job = Job.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.job
              })
              break
            }
            case 4: {
              obj.message = reader.string()
              break
            }
            case 5: {
              if (opts.limits?.directories != null && obj.directories.length === opts.limits.directories) {
                throw new MaxLengthError('Decode error - repeated field "directories" had too many elements')
              }

              obj.directories.push(reader.bytes())
              break
            }
            case 6: {
              if (opts.limits?.missingBlobs != null && obj.missingBlobs.length === opts.limits.missingBlobs) {
                throw new MaxLengthError('Decode error - repeated field "missingBlobs" had too many elements')
              }

              obj.missingBlobs.push(reader.bytes())
              break
            }
            case 7: {
              if (opts.limits?.missingDirectories != null && obj.missingDirectories.length === opts.limits.missingDirectories) {
                throw new MaxLengthError('Decode error - repeated field "missingDirectories" had too many elements')
              }

              obj.missingDirectories.push(reader.bytes())
              break
            }
            case 8: {
              obj.blob = BlobHeader.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.blob
              })
              break
            }
            case 9: {
              obj.signal = reader.string()
              break
            }
            case 10: {
              obj.code = reader.sint32()
              break
            }
            case 11: {
              obj.jobId = reader.string()
              break
            }
            case 12: {
              obj.bulk = BulkOffer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.bulk
              })
              break
            }
            case 13: {
              obj.changes = ChangeSet.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.changes
              })
              break
            }
            case 14: {
              obj.path = reader.string()
              break
            }
            case 15: {
              obj.toolchain = reader.bytes()
              break
            }
            case 16: {
              obj.probe = reader.bytes()
              break
            }
            case 17: {
              obj.probeAnswer = reader.bytes()
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
          directories: 0,
          missingBlobs: 0,
          missingDirectories: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.type`,
                value: Frame.Type.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.data`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield * Job.codec().stream(reader, reader.uint32(), `${prefix}.job`, {
                limits: opts.limits?.job
              })

              break
            }
            case 4: {
              yield {
                field: `${prefix}.message`,
                value: reader.string()
              }
              break
            }
            case 5: {
              if (opts.limits?.directories != null && obj.directories === opts.limits.directories) {
                throw new MaxLengthError('Streaming decode error - repeated field "directories" had too many elements')
              }

              yield {
                field: `${prefix}.directories[]`,
                index: obj.directories,
                value: reader.bytes()
              }

              obj.directories++

              break
            }
            case 6: {
              if (opts.limits?.missingBlobs != null && obj.missingBlobs === opts.limits.missingBlobs) {
                throw new MaxLengthError('Streaming decode error - repeated field "missingBlobs" had too many elements')
              }

              yield {
                field: `${prefix}.missingBlobs[]`,
                index: obj.missingBlobs,
                value: reader.bytes()
              }

              obj.missingBlobs++

              break
            }
            case 7: {
              if (opts.limits?.missingDirectories != null && obj.missingDirectories === opts.limits.missingDirectories) {
                throw new MaxLengthError('Streaming decode error - repeated field "missingDirectories" had too many elements')
              }

              yield {
                field: `${prefix}.missingDirectories[]`,
                index: obj.missingDirectories,
                value: reader.bytes()
              }

              obj.missingDirectories++

              break
            }
            case 8: {
              yield * BlobHeader.codec().stream(reader, reader.uint32(), `${prefix}.blob`, {
                limits: opts.limits?.blob
              })

              break
            }
            case 9: {
              yield {
                field: `${prefix}.signal`,
                value: reader.string()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.code`,
                value: reader.sint32()
              }
              break
            }
            case 11: {
              yield {
                field: `${prefix}.jobId`,
                value: reader.string()
              }
              break
            }
            case 12: {
              yield * BulkOffer.codec().stream(reader, reader.uint32(), `${prefix}.bulk`, {
                limits: opts.limits?.bulk
              })

              break
            }
            case 13: {
              yield * ChangeSet.codec().stream(reader, reader.uint32(), `${prefix}.changes`, {
                limits: opts.limits?.changes
              })

              break
            }
            case 14: {
              yield {
                field: `${prefix}.path`,
                value: reader.string()
              }
              break
            }
            case 15: {
              yield {
                field: `${prefix}.toolchain`,
                value: reader.bytes()
              }
              break
            }
            case 16: {
              yield {
                field: `${prefix}.probe`,
                value: reader.bytes()
              }
              break
            }
            case 17: {
              yield {
                field: `${prefix}.probeAnswer`,
                value: reader.bytes()
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

  export interface FrameTypeFieldEvent {
    field: '$.type'
    value: Frame.Type
  }

  export interface FrameDataFieldEvent {
    field: '$.data'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameJobTicketFieldEvent {
    field: '$.job.ticket'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameJobArgvFieldEvent {
    field: '$.job.argv[]'
    index: number
    value: string
  }

  export interface FrameJobCwdFieldEvent {
    field: '$.job.cwd'
    value: string
  }

  export interface FrameJobEnvNameFieldEvent {
    field: '$.job.env[].name'
    value: string
    index: number
  }

  export interface FrameJobEnvValueFieldEvent {
    field: '$.job.env[].value'
    value: string
    index: number
  }

  export interface FrameJobWorkspaceFieldEvent {
    field: '$.job.workspace'
    value: string
  }

  export interface FrameJobRootDigestFieldEvent {
    field: '$.job.rootDigest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameJobRootModeFieldEvent {
    field: '$.job.rootMode'
    value: number
  }

  export interface FrameJobTreeFramesFieldEvent {
    field: '$.job.treeFrames'
    value: number
  }

  export interface FrameJobTreeFilesFieldEvent {
    field: '$.job.treeFiles'
    value: bigint
  }

  export interface FrameJobTreeBytesFieldEvent {
    field: '$.job.treeBytes'
    value: bigint
  }

  export interface FrameJobExePathFieldEvent {
    field: '$.job.exe.path'
    value: string
  }

  export interface FrameJobExeDigestFieldEvent {
    field: '$.job.exe.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameJobExeSizeFieldEvent {
    field: '$.job.exe.size'
    value: bigint
  }

  export interface FrameJobExeModeFieldEvent {
    field: '$.job.exe.mode'
    value: number
  }

  export interface FrameJobExeInWorkspaceFieldEvent {
    field: '$.job.exe.inWorkspace'
    value: boolean
  }

  export interface FrameJobExeArchFieldEvent {
    field: '$.job.exe.arch'
    value: string
  }

  export interface FrameJobExeInterpreterFieldEvent {
    field: '$.job.exe.interpreter'
    value: string
  }

  export interface FrameJobExeLinksPathFieldEvent {
    field: '$.job.exe.links[].path'
    value: string
    index: number
  }

  export interface FrameJobExeLinksTargetFieldEvent {
    field: '$.job.exe.links[].target'
    value: string
    index: number
  }

  export interface FrameJobExtrasPathFieldEvent {
    field: '$.job.extras[].path'
    value: string
    index: number
  }

  export interface FrameJobExtrasDigestFieldEvent {
    field: '$.job.extras[].digest'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface FrameJobExtrasSizeFieldEvent {
    field: '$.job.extras[].size'
    value: bigint
    index: number
  }

  export interface FrameJobExtrasModeFieldEvent {
    field: '$.job.extras[].mode'
    value: number
    index: number
  }

  export interface FrameJobOutputsFieldEvent {
    field: '$.job.outputs[]'
    index: number
    value: string
  }

  export interface FrameJobStdinFieldEvent {
    field: '$.job.stdin'
    value: boolean
  }

  export interface FrameJobUmaskFieldEvent {
    field: '$.job.umask'
    value: number
  }

  export interface FrameJobToolchainFieldEvent {
    field: '$.job.toolchain'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export interface FrameDirectoriesFieldEvent {
    field: '$.directories[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameMissingBlobsFieldEvent {
    field: '$.missingBlobs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameMissingDirectoriesFieldEvent {
    field: '$.missingDirectories[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameBlobDigestFieldEvent {
    field: '$.blob.digest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameBlobSizeFieldEvent {
    field: '$.blob.size'
    value: bigint
  }

  export interface FrameSignalFieldEvent {
    field: '$.signal'
    value: string
  }

  export interface FrameCodeFieldEvent {
    field: '$.code'
    value: number
  }

  export interface FrameJobIdFieldEvent {
    field: '$.jobId'
    value: string
  }

  export interface FrameBulkPortFieldEvent {
    field: '$.bulk.port'
    value: number
  }

  export interface FrameBulkIdFieldEvent {
    field: '$.bulk.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameBulkSecretFieldEvent {
    field: '$.bulk.secret'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameChangesChangesKindFieldEvent {
    field: '$.changes.changes[].kind'
    value: Change.Kind
    index: number
  }

  export interface FrameChangesChangesPathFieldEvent {
    field: '$.changes.changes[].path'
    value: string
    index: number
  }

  export interface FrameChangesChangesDigestFieldEvent {
    field: '$.changes.changes[].digest'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface FrameChangesChangesSizeFieldEvent {
    field: '$.changes.changes[].size'
    value: bigint
    index: number
  }

  export interface FrameChangesChangesModeFieldEvent {
    field: '$.changes.changes[].mode'
    value: number
    index: number
  }

  export interface FrameChangesChangesTargetFieldEvent {
    field: '$.changes.changes[].target'
    value: string
    index: number
  }

  export interface FrameChangesLastFieldEvent {
    field: '$.changes.last'
    value: boolean
  }

  export interface FrameChangesFilesFieldEvent {
    field: '$.changes.files'
    value: bigint
  }

  export interface FrameChangesBytesFieldEvent {
    field: '$.changes.bytes'
    value: bigint
  }

  export interface FramePathFieldEvent {
    field: '$.path'
    value: string
  }

  export interface FrameToolchainFieldEvent {
    field: '$.toolchain'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameProbeFieldEvent {
    field: '$.probe'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameProbeAnswerFieldEvent {
    field: '$.probeAnswer'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Frame>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Frame.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Frame>): Frame {
    return decodeMessage(buf, Frame.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Frame>): Generator<FrameTypeFieldEvent | FrameDataFieldEvent | FrameJobTicketFieldEvent | FrameJobArgvFieldEvent | FrameJobCwdFieldEvent | FrameJobEnvNameFieldEvent | FrameJobEnvValueFieldEvent | FrameJobWorkspaceFieldEvent | FrameJobRootDigestFieldEvent | FrameJobRootModeFieldEvent | FrameJobTreeFramesFieldEvent | FrameJobTreeFilesFieldEvent | FrameJobTreeBytesFieldEvent | FrameJobExePathFieldEvent | FrameJobExeDigestFieldEvent | FrameJobExeSizeFieldEvent | FrameJobExeModeFieldEvent | FrameJobExeInWorkspaceFieldEvent | FrameJobExeArchFieldEvent | FrameJobExeInterpreterFieldEvent | FrameJobExeLinksPathFieldEvent | FrameJobExeLinksTargetFieldEvent | FrameJobExtrasPathFieldEvent | FrameJobExtrasDigestFieldEvent | FrameJobExtrasSizeFieldEvent | FrameJobExtrasModeFieldEvent | FrameJobOutputsFieldEvent | FrameJobStdinFieldEvent | FrameJobUmaskFieldEvent | FrameJobToolchainFieldEvent | FrameMessageFieldEvent | FrameDirectoriesFieldEvent | FrameMissingBlobsFieldEvent | FrameMissingDirectoriesFieldEvent | FrameBlobDigestFieldEvent | FrameBlobSizeFieldEvent | FrameSignalFieldEvent | FrameCodeFieldEvent | FrameJobIdFieldEvent | FrameBulkPortFieldEvent | FrameBulkIdFieldEvent | FrameBulkSecretFieldEvent | FrameChangesChangesKindFieldEvent | FrameChangesChangesPathFieldEvent | FrameChangesChangesDigestFieldEvent | FrameChangesChangesSizeFieldEvent | FrameChangesChangesModeFieldEvent | FrameChangesChangesTargetFieldEvent | FrameChangesLastFieldEvent | FrameChangesFilesFieldEvent | FrameChangesBytesFieldEvent | FramePathFieldEvent | FrameToolchainFieldEvent | FrameProbeFieldEvent | FrameProbeAnswerFieldEvent> {
    return streamMessage(buf, Frame.codec(), opts)
  }
}
