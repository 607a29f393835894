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

export interface FileMeta {
  path: string
  size: bigint
  mode: number
}

export namespace FileMeta {
  let _codec: Codec<FileMeta>

  export const codec = (): Codec<FileMeta> => {
    if (_codec == null) {
      _codec = message<FileMeta>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.path != null && obj.path !== '')) {
          w.uint32(10)
          w.string(obj.path)
        }

        if ((obj.size != null && obj.size !== 0n)) {
          w.uint32(16)
          w.uint64(obj.size)
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
          path: '',
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
              obj.size = reader.uint64()
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
                field: `${prefix}.path`,
                value: reader.string()
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

  export interface FileMetaPathFieldEvent {
    field: '$.path'
    value: string
  }

  export interface FileMetaSizeFieldEvent {
    field: '$.size'
    value: bigint
  }

  export interface FileMetaModeFieldEvent {
    field: '$.mode'
    value: number
  }

  export function encode (obj: Partial<FileMeta>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, FileMeta.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FileMeta>): FileMeta {
    return decodeMessage(buf, FileMeta.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FileMeta>): Generator<FileMetaPathFieldEvent | FileMetaSizeFieldEvent | FileMetaModeFieldEvent> {
    return streamMessage(buf, FileMeta.codec(), opts)
  }
}

export interface Job {
  ticket: Uint8Array<ArrayBuffer>
  exeSha256: Uint8Array<ArrayBuffer>
  exeSize: bigint
  exePath: string
  argv: string[]
  cwd: string
  env: EnvVar[]
  inputs: FileMeta[]
  outputs: string[]
  arch: string
  interpreter: string
  stdin: boolean
  eager: boolean
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

        if ((obj.exeSha256 != null && obj.exeSha256.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.exeSha256)
        }

        if ((obj.exeSize != null && obj.exeSize !== 0n)) {
          w.uint32(24)
          w.uint64(obj.exeSize)
        }

        if ((obj.exePath != null && obj.exePath !== '')) {
          w.uint32(34)
          w.string(obj.exePath)
        }

        if (obj.argv != null && obj.argv.length > 0) {
          for (const value of obj.argv) {
            w.uint32(42)
            w.string(value)
          }
        }

        if ((obj.cwd != null && obj.cwd !== '')) {
          w.uint32(50)
          w.string(obj.cwd)
        }

        if (obj.env != null && obj.env.length > 0) {
          for (const value of obj.env) {
            w.uint32(58)
            EnvVar.codec().encode(value, w)
          }
        }

        if (obj.inputs != null && obj.inputs.length > 0) {
          for (const value of obj.inputs) {
            w.uint32(66)
            FileMeta.codec().encode(value, w)
          }
        }

        if (obj.outputs != null && obj.outputs.length > 0) {
          for (const value of obj.outputs) {
            w.uint32(74)
            w.string(value)
          }
        }

        if ((obj.arch != null && obj.arch !== '')) {
          w.uint32(82)
          w.string(obj.arch)
        }

        if ((obj.interpreter != null && obj.interpreter !== '')) {
          w.uint32(90)
          w.string(obj.interpreter)
        }

        if ((obj.stdin != null && obj.stdin !== false)) {
          w.uint32(96)
          w.bool(obj.stdin)
        }

        if ((obj.eager != null && obj.eager !== false)) {
          w.uint32(104)
          w.bool(obj.eager)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          ticket: uint8ArrayAlloc(0),
          exeSha256: uint8ArrayAlloc(0),
          exeSize: 0n,
          exePath: '',
          argv: [],
          cwd: '',
          env: [],
          inputs: [],
          outputs: [],
          arch: '',
          interpreter: '',
          stdin: false,
          eager: false
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
              obj.exeSha256 = reader.bytes()
              break
            }
            case 3: {
              obj.exeSize = reader.uint64()
              break
            }
            case 4: {
              obj.exePath = reader.string()
              break
            }
            case 5: {
              if (opts.limits?.argv != null && obj.argv.length === opts.limits.argv) {
                throw new MaxLengthError('Decode error - repeated field "argv" had too many elements')
              }

              obj.argv.push(reader.string())
              break
            }
            case 6: {
              obj.cwd = reader.string()
              break
            }
            case 7: {
              if (opts.limits?.env != null && obj.env.length === opts.limits.env) {
                throw new MaxLengthError('Decode error - repeated field "env" had too many elements')
              }

              obj.env.push(EnvVar.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.env$
              }))
              break
            }
            case 8: {
              if (opts.limits?.inputs != null && obj.inputs.length === opts.limits.inputs) {
                throw new MaxLengthError('Decode error - repeated field "inputs" had too many elements')
              }

              obj.inputs.push(FileMeta.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.inputs$
              }))
              break
            }
            case 9: {
              if (opts.limits?.outputs != null && obj.outputs.length === opts.limits.outputs) {
                throw new MaxLengthError('Decode error - repeated field "outputs" had too many elements')
              }

              obj.outputs.push(reader.string())
              break
            }
            case 10: {
              obj.arch = reader.string()
              break
            }
            case 11: {
              obj.interpreter = reader.string()
              break
            }
            case 12: {
              obj.stdin = reader.bool()
              break
            }
            case 13: {
              obj.eager = reader.bool()
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
          inputs: 0,
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
              yield {
                field: `${prefix}.exeSha256`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.exeSize`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.exePath`,
                value: reader.string()
              }
              break
            }
            case 5: {
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
            case 6: {
              yield {
                field: `${prefix}.cwd`,
                value: reader.string()
              }
              break
            }
            case 7: {
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
            case 8: {
              if (opts.limits?.inputs != null && obj.inputs === opts.limits.inputs) {
                throw new MaxLengthError('Streaming decode error - repeated field "inputs" had too many elements')
              }

              for (const evt of FileMeta.codec().stream(reader, reader.uint32(), `${prefix}.inputs[]`, {
                limits: opts.limits?.inputs$
              })) {
                yield {
                  ...evt,
                  index: obj.inputs
                }
              }

              obj.inputs++

              break
            }
            case 9: {
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
            case 10: {
              yield {
                field: `${prefix}.arch`,
                value: reader.string()
              }
              break
            }
            case 11: {
              yield {
                field: `${prefix}.interpreter`,
                value: reader.string()
              }
              break
            }
            case 12: {
              yield {
                field: `${prefix}.stdin`,
                value: reader.bool()
              }
              break
            }
            case 13: {
              yield {
                field: `${prefix}.eager`,
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

  export interface JobTicketFieldEvent {
    field: '$.ticket'
    value: Uint8Array<ArrayBuffer>
  }

  export interface JobExeSha256FieldEvent {
    field: '$.exeSha256'
    value: Uint8Array<ArrayBuffer>
  }

  export interface JobExeSizeFieldEvent {
    field: '$.exeSize'
    value: bigint
  }

  export interface JobExePathFieldEvent {
    field: '$.exePath'
    value: string
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

  export interface JobInputsPathFieldEvent {
    field: '$.inputs[].path'
    value: string
    index: number
  }

  export interface JobInputsSizeFieldEvent {
    field: '$.inputs[].size'
    value: bigint
    index: number
  }

  export interface JobInputsModeFieldEvent {
    field: '$.inputs[].mode'
    value: number
    index: number
  }

  export interface JobOutputsFieldEvent {
    field: '$.outputs[]'
    index: number
    value: string
  }

  export interface JobArchFieldEvent {
    field: '$.arch'
    value: string
  }

  export interface JobInterpreterFieldEvent {
    field: '$.interpreter'
    value: string
  }

  export interface JobStdinFieldEvent {
    field: '$.stdin'
    value: boolean
  }

  export interface JobEagerFieldEvent {
    field: '$.eager'
    value: boolean
  }

  export function encode (obj: Partial<Job>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Job.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Job>): Job {
    return decodeMessage(buf, Job.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Job>): Generator<JobTicketFieldEvent | JobExeSha256FieldEvent | JobExeSizeFieldEvent | JobExePathFieldEvent | JobArgvFieldEvent | JobCwdFieldEvent | JobEnvNameFieldEvent | JobEnvValueFieldEvent | JobInputsPathFieldEvent | JobInputsSizeFieldEvent | JobInputsModeFieldEvent | JobOutputsFieldEvent | JobArchFieldEvent | JobInterpreterFieldEvent | JobStdinFieldEvent | JobEagerFieldEvent> {
    return streamMessage(buf, Job.codec(), opts)
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
  needExe: boolean
  signal: string
  code: number
  file?: FileMeta
  jobId: string
  bulk?: BulkOffer
}

export namespace Frame {
  export enum Type {
    REQUEST = 'REQUEST',
    ACCEPT = 'ACCEPT',
    REFUSE = 'REFUSE',
    DATA = 'DATA',
    FILE = 'FILE',
    START = 'START',
    STARTED = 'STARTED',
    STDIN = 'STDIN',
    STDIN_EOF = 'STDIN_EOF',
    STDOUT = 'STDOUT',
    STDERR = 'STDERR',
    SIGNAL = 'SIGNAL',
    EXIT = 'EXIT',
    ERROR = 'ERROR',
    BULK = 'BULK',
    SWITCH = 'SWITCH',
    CLOSE_OUTPUT = 'CLOSE_OUTPUT'
  }

  enum __TypeValues {
    REQUEST = 0,
    ACCEPT = 1,
    REFUSE = 2,
    DATA = 3,
    FILE = 4,
    START = 5,
    STARTED = 6,
    STDIN = 7,
    STDIN_EOF = 8,
    STDOUT = 9,
    STDERR = 10,
    SIGNAL = 11,
    EXIT = 12,
    ERROR = 13,
    BULK = 14,
    SWITCH = 15,
    CLOSE_OUTPUT = 16
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

        if ((obj.needExe != null && obj.needExe !== false)) {
          w.uint32(40)
          w.bool(obj.needExe)
        }

        if ((obj.signal != null && obj.signal !== '')) {
          w.uint32(50)
          w.string(obj.signal)
        }

        if ((obj.code != null && obj.code !== 0)) {
          w.uint32(56)
          w.sint32(obj.code)
        }

        if (obj.file != null) {
          w.uint32(66)
          FileMeta.codec().encode(obj.file, w)
        }

        if ((obj.jobId != null && obj.jobId !== '')) {
          w.uint32(74)
          w.string(obj.jobId)
        }

        if (obj.bulk != null) {
          w.uint32(82)
          BulkOffer.codec().encode(obj.bulk, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          type: Type.REQUEST,
          data: uint8ArrayAlloc(0),
          message: '',
          needExe: false,
          signal: '',
          code: 0,
          jobId: ''
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
              obj.needExe = reader.bool()
              break
            }
            case 6: {
              obj.signal = reader.string()
              break
            }
            case 7: {
              obj.code = reader.sint32()
              break
            }
            case 8: {
              obj.file = FileMeta.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.file
              })
              break
            }
            case 9: {
              obj.jobId = reader.string()
              break
            }
            case 10: {
              obj.bulk = BulkOffer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.bulk
              })
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
              yield {
                field: `${prefix}.needExe`,
                value: reader.bool()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.signal`,
                value: reader.string()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.code`,
                value: reader.sint32()
              }
              break
            }
            case 8: {
              yield * FileMeta.codec().stream(reader, reader.uint32(), `${prefix}.file`, {
                limits: opts.limits?.file
              })

              break
            }
            case 9: {
              yield {
                field: `${prefix}.jobId`,
                value: reader.string()
              }
              break
            }
            case 10: {
              yield * BulkOffer.codec().stream(reader, reader.uint32(), `${prefix}.bulk`, {
                limits: opts.limits?.bulk
              })

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

  export interface FrameJobExeSha256FieldEvent {
    field: '$.job.exeSha256'
    value: Uint8Array<ArrayBuffer>
  }

  export interface FrameJobExeSizeFieldEvent {
    field: '$.job.exeSize'
    value: bigint
  }

  export interface FrameJobExePathFieldEvent {
    field: '$.job.exePath'
    value: string
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

  export interface FrameJobInputsPathFieldEvent {
    field: '$.job.inputs[].path'
    value: string
    index: number
  }

  export interface FrameJobInputsSizeFieldEvent {
    field: '$.job.inputs[].size'
    value: bigint
    index: number
  }

  export interface FrameJobInputsModeFieldEvent {
    field: '$.job.inputs[].mode'
    value: number
    index: number
  }

  export interface FrameJobOutputsFieldEvent {
    field: '$.job.outputs[]'
    index: number
    value: string
  }

  export interface FrameJobArchFieldEvent {
    field: '$.job.arch'
    value: string
  }

  export interface FrameJobInterpreterFieldEvent {
    field: '$.job.interpreter'
    value: string
  }

  export interface FrameJobStdinFieldEvent {
    field: '$.job.stdin'
    value: boolean
  }

  export interface FrameJobEagerFieldEvent {
    field: '$.job.eager'
    value: boolean
  }

  export interface FrameMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export interface FrameNeedExeFieldEvent {
    field: '$.needExe'
    value: boolean
  }

  export interface FrameSignalFieldEvent {
    field: '$.signal'
    value: string
  }

  export interface FrameCodeFieldEvent {
    field: '$.code'
    value: number
  }

  export interface FrameFilePathFieldEvent {
    field: '$.file.path'
    value: string
  }

  export interface FrameFileSizeFieldEvent {
    field: '$.file.size'
    value: bigint
  }

  export interface FrameFileModeFieldEvent {
    field: '$.file.mode'
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

  export function encode (obj: Partial<Frame>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Frame.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Frame>): Frame {
    return decodeMessage(buf, Frame.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Frame>): Generator<FrameTypeFieldEvent | FrameDataFieldEvent | FrameJobTicketFieldEvent | FrameJobExeSha256FieldEvent | FrameJobExeSizeFieldEvent | FrameJobExePathFieldEvent | FrameJobArgvFieldEvent | FrameJobCwdFieldEvent | FrameJobEnvNameFieldEvent | FrameJobEnvValueFieldEvent | FrameJobInputsPathFieldEvent | FrameJobInputsSizeFieldEvent | FrameJobInputsModeFieldEvent | FrameJobOutputsFieldEvent | FrameJobArchFieldEvent | FrameJobInterpreterFieldEvent | FrameJobStdinFieldEvent | FrameJobEagerFieldEvent | FrameMessageFieldEvent | FrameNeedExeFieldEvent | FrameSignalFieldEvent | FrameCodeFieldEvent | FrameFilePathFieldEvent | FrameFileSizeFieldEvent | FrameFileModeFieldEvent | FrameJobIdFieldEvent | FrameBulkPortFieldEvent | FrameBulkIdFieldEvent | FrameBulkSecretFieldEvent> {
    return streamMessage(buf, Frame.codec(), opts)
  }
}
