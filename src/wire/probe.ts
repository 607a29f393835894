import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Requirements {
  arch: string
  interpreter: string
  minFreeMemKib: bigint
  toolchain: string
}

export namespace Requirements {
  let _codec: Codec<Requirements>

  export const codec = (): Codec<Requirements> => {
    if (_codec == null) {
      _codec = message<Requirements>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.arch != null && obj.arch !== '')) {
          w.uint32(10)
          w.string(obj.arch)
        }

        if ((obj.interpreter != null && obj.interpreter !== '')) {
          w.uint32(18)
          w.string(obj.interpreter)
        }

        if ((obj.minFreeMemKib != null && obj.minFreeMemKib !== 0n)) {
          w.uint32(24)
          w.uint64(obj.minFreeMemKib)
        }

        if ((obj.toolchain != null && obj.toolchain !== '')) {
          w.uint32(34)
          w.string(obj.toolchain)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          arch: '',
          interpreter: '',
          minFreeMemKib: 0n,
          toolchain: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.arch = reader.string()
              break
            }
            case 2: {
              obj.interpreter = reader.string()
              break
            }
            case 3: {
              obj.minFreeMemKib = reader.uint64()
              break
            }
            case 4: {
              obj.toolchain = reader.string()
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
                field: `${prefix}.arch`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.interpreter`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.minFreeMemKib`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.toolchain`,
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

  export interface RequirementsArchFieldEvent {
    field: '$.arch'
    value: string
  }

  export interface RequirementsInterpreterFieldEvent {
    field: '$.interpreter'
    value: string
  }

  export interface RequirementsMinFreeMemKibFieldEvent {
    field: '$.minFreeMemKib'
    value: bigint
  }

  export interface RequirementsToolchainFieldEvent {
    field: '$.toolchain'
    value: string
  }

  export function encode (obj: Partial<Requirements>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Requirements.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Requirements>): Requirements {
    return decodeMessage(buf, Requirements.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Requirements>): Generator<RequirementsArchFieldEvent | RequirementsInterpreterFieldEvent | RequirementsMinFreeMemKibFieldEvent | RequirementsToolchainFieldEvent> {
    return streamMessage(buf, Requirements.codec(), opts)
  }
}

export interface ProbeRequest {
  id: string
  origin: string
  sender: string
  path: string[]
  ttl: number
  requirements?: Requirements
  timeoutMs: number
  originSysmetric?: number
  originProof: Uint8Array<ArrayBuffer>
}

export namespace ProbeRequest {
  let _codec: Codec<ProbeRequest>

  export const codec = (): Codec<ProbeRequest> => {
    if (_codec == null) {
      _codec = message<ProbeRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== '')) {
          w.uint32(10)
          w.string(obj.id)
        }

        if ((obj.origin != null && obj.origin !== '')) {
          w.uint32(18)
          w.string(obj.origin)
        }

        if ((obj.sender != null && obj.sender !== '')) {
          w.uint32(26)
          w.string(obj.sender)
        }

        if (obj.path != null && obj.path.length > 0) {
          for (const value of obj.path) {
            w.uint32(34)
            w.string(value)
          }
        }

        if ((obj.ttl != null && obj.ttl !== 0)) {
          w.uint32(40)
          w.uint32(obj.ttl)
        }

        if (obj.requirements != null) {
          w.uint32(50)
          Requirements.codec().encode(obj.requirements, w)
        }

        if ((obj.timeoutMs != null && obj.timeoutMs !== 0)) {
          w.uint32(56)
          w.uint32(obj.timeoutMs)
        }

        if (obj.originSysmetric != null) {
          w.uint32(65)
          w.double(obj.originSysmetric)
        }

        if ((obj.originProof != null && obj.originProof.byteLength > 0)) {
          w.uint32(74)
          w.bytes(obj.originProof)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: '',
          origin: '',
          sender: '',
          path: [],
          ttl: 0,
          timeoutMs: 0,
          originProof: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.string()
              break
            }
            case 2: {
              obj.origin = reader.string()
              break
            }
            case 3: {
              obj.sender = reader.string()
              break
            }
            case 4: {
              if (opts.limits?.path != null && obj.path.length === opts.limits.path) {
                throw new MaxLengthError('Decode error - repeated field "path" had too many elements')
              }

              obj.path.push(reader.string())
              break
            }
            case 5: {
              obj.ttl = reader.uint32()
              break
            }
            case 6: {
              obj.requirements = Requirements.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.requirements
              })
              break
            }
            case 7: {
              obj.timeoutMs = reader.uint32()
              break
            }
            case 8: {
              obj.originSysmetric = reader.double()
              break
            }
            case 9: {
              obj.originProof = reader.bytes()
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
          path: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.id`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.origin`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.sender`,
                value: reader.string()
              }
              break
            }
            case 4: {
              if (opts.limits?.path != null && obj.path === opts.limits.path) {
                throw new MaxLengthError('Streaming decode error - repeated field "path" had too many elements')
              }

              yield {
                field: `${prefix}.path[]`,
                index: obj.path,
                value: reader.string()
              }

              obj.path++

              break
            }
            case 5: {
              yield {
                field: `${prefix}.ttl`,
                value: reader.uint32()
              }
              break
            }
            case 6: {
              yield * Requirements.codec().stream(reader, reader.uint32(), `${prefix}.requirements`, {
                limits: opts.limits?.requirements
              })

              break
            }
            case 7: {
              yield {
                field: `${prefix}.timeoutMs`,
                value: reader.uint32()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.originSysmetric`,
                value: reader.double()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.originProof`,
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

  export interface ProbeRequestIdFieldEvent {
    field: '$.id'
    value: string
  }

  export interface ProbeRequestOriginFieldEvent {
    field: '$.origin'
    value: string
  }

  export interface ProbeRequestSenderFieldEvent {
    field: '$.sender'
    value: string
  }

  export interface ProbeRequestPathFieldEvent {
    field: '$.path[]'
    index: number
    value: string
  }

  export interface ProbeRequestTtlFieldEvent {
    field: '$.ttl'
    value: number
  }

  export interface ProbeRequestRequirementsArchFieldEvent {
    field: '$.requirements.arch'
    value: string
  }

  export interface ProbeRequestRequirementsInterpreterFieldEvent {
    field: '$.requirements.interpreter'
    value: string
  }

  export interface ProbeRequestRequirementsMinFreeMemKibFieldEvent {
    field: '$.requirements.minFreeMemKib'
    value: bigint
  }

  export interface ProbeRequestRequirementsToolchainFieldEvent {
    field: '$.requirements.toolchain'
    value: string
  }

  export interface ProbeRequestTimeoutMsFieldEvent {
    field: '$.timeoutMs'
    value: number
  }

  export interface ProbeRequestOriginSysmetricFieldEvent {
    field: '$.originSysmetric'
    value: number
  }

  export interface ProbeRequestOriginProofFieldEvent {
    field: '$.originProof'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<ProbeRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ProbeRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ProbeRequest>): ProbeRequest {
    return decodeMessage(buf, ProbeRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ProbeRequest>): Generator<ProbeRequestIdFieldEvent | ProbeRequestOriginFieldEvent | ProbeRequestSenderFieldEvent | ProbeRequestPathFieldEvent | ProbeRequestTtlFieldEvent | ProbeRequestRequirementsArchFieldEvent | ProbeRequestRequirementsInterpreterFieldEvent | ProbeRequestRequirementsMinFreeMemKibFieldEvent | ProbeRequestRequirementsToolchainFieldEvent | ProbeRequestTimeoutMsFieldEvent | ProbeRequestOriginSysmetricFieldEvent | ProbeRequestOriginProofFieldEvent> {
    return streamMessage(buf, ProbeRequest.codec(), opts)
  }
}

export interface ProbeResponse {
  status: ProbeResponse.Status
  id: string
  target: string
  sysmetric: number
  path: string[]
  addrs: Uint8Array<ArrayBuffer>[]
  ticket: Uint8Array<ArrayBuffer>
  ticketTtlMs: number
  reason: string
}

export namespace ProbeResponse {
  export enum Status {
    UNSPECIFIED = 'UNSPECIFIED',
    REPLY = 'REPLY',
    DECLINED = 'DECLINED'
  }

  enum __StatusValues {
    UNSPECIFIED = 0,
    REPLY = 1,
    DECLINED = 2
  }

  export namespace Status {
    export const codec = (): Codec<Status> => {
      return enumeration<Status>(__StatusValues)
    }
  }

  let _codec: Codec<ProbeResponse>

  export const codec = (): Codec<ProbeResponse> => {
    if (_codec == null) {
      _codec = message<ProbeResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null && __StatusValues[obj.status] !== 0) {
          w.uint32(8)
          ProbeResponse.Status.codec().encode(obj.status, w)
        }

        if ((obj.id != null && obj.id !== '')) {
          w.uint32(18)
          w.string(obj.id)
        }

        if ((obj.target != null && obj.target !== '')) {
          w.uint32(26)
          w.string(obj.target)
        }

        if ((obj.sysmetric != null && obj.sysmetric !== 0)) {
          w.uint32(33)
          w.double(obj.sysmetric)
        }

        if (obj.path != null && obj.path.length > 0) {
          for (const value of obj.path) {
            w.uint32(42)
            w.string(value)
          }
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(50)
            w.bytes(value)
          }
        }

        if ((obj.ticket != null && obj.ticket.byteLength > 0)) {
          w.uint32(58)
          w.bytes(obj.ticket)
        }

        if ((obj.ticketTtlMs != null && obj.ticketTtlMs !== 0)) {
          w.uint32(64)
          w.uint32(obj.ticketTtlMs)
        }

        if ((obj.reason != null && obj.reason !== '')) {
          w.uint32(74)
          w.string(obj.reason)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          status: Status.UNSPECIFIED,
          id: '',
          target: '',
          sysmetric: 0,
          path: [],
          addrs: [],
          ticket: uint8ArrayAlloc(0),
          ticketTtlMs: 0,
          reason: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = ProbeResponse.Status.codec().decode(reader)
              break
            }
            case 2: {
              obj.id = reader.string()
              break
            }
            case 3: {
              obj.target = reader.string()
              break
            }
            case 4: {
              obj.sysmetric = reader.double()
              break
            }
            case 5: {
              if (opts.limits?.path != null && obj.path.length === opts.limits.path) {
                throw new MaxLengthError('Decode error - repeated field "path" had too many elements')
              }

              obj.path.push(reader.string())
              break
            }
            case 6: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(reader.bytes())
              break
            }
            case 7: {
              obj.ticket = reader.bytes()
              break
            }
            case 8: {
              obj.ticketTtlMs = reader.uint32()
              break
            }
            case 9: {
              obj.reason = reader.string()
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
          path: 0,
          addrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.status`,
                value: ProbeResponse.Status.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.id`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.target`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.sysmetric`,
                value: reader.double()
              }
              break
            }
            case 5: {
              if (opts.limits?.path != null && obj.path === opts.limits.path) {
                throw new MaxLengthError('Streaming decode error - repeated field "path" had too many elements')
              }

              yield {
                field: `${prefix}.path[]`,
                index: obj.path,
                value: reader.string()
              }

              obj.path++

              break
            }
            case 6: {
              if (opts.limits?.addrs != null && obj.addrs === opts.limits.addrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements')
              }

              yield {
                field: `${prefix}.addrs[]`,
                index: obj.addrs,
                value: reader.bytes()
              }

              obj.addrs++

              break
            }
            case 7: {
              yield {
                field: `${prefix}.ticket`,
                value: reader.bytes()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.ticketTtlMs`,
                value: reader.uint32()
              }
              break
            }
            case 9: {
              yield {
                field: `${prefix}.reason`,
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

  export interface ProbeResponseStatusFieldEvent {
    field: '$.status'
    value: ProbeResponse.Status
  }

  export interface ProbeResponseIdFieldEvent {
    field: '$.id'
    value: string
  }

  export interface ProbeResponseTargetFieldEvent {
    field: '$.target'
    value: string
  }

  export interface ProbeResponseSysmetricFieldEvent {
    field: '$.sysmetric'
    value: number
  }

  export interface ProbeResponsePathFieldEvent {
    field: '$.path[]'
    index: number
    value: string
  }

  export interface ProbeResponseAddrsFieldEvent {
    field: '$.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface ProbeResponseTicketFieldEvent {
    field: '$.ticket'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ProbeResponseTicketTtlMsFieldEvent {
    field: '$.ticketTtlMs'
    value: number
  }

  export interface ProbeResponseReasonFieldEvent {
    field: '$.reason'
    value: string
  }

  export function encode (obj: Partial<ProbeResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ProbeResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ProbeResponse>): ProbeResponse {
    return decodeMessage(buf, ProbeResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ProbeResponse>): Generator<ProbeResponseStatusFieldEvent | ProbeResponseIdFieldEvent | ProbeResponseTargetFieldEvent | ProbeResponseSysmetricFieldEvent | ProbeResponsePathFieldEvent | ProbeResponseAddrsFieldEvent | ProbeResponseTicketFieldEvent | ProbeResponseTicketTtlMsFieldEvent | ProbeResponseReasonFieldEvent> {
    return streamMessage(buf, ProbeResponse.codec(), opts)
  }
}
