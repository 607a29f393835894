import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface PairRequest {
  kind: PairRequest.Kind
  token: string
  alias: string
  addrs: Uint8Array<ArrayBuffer>[]
}

export namespace PairRequest {
  export enum Kind {
    UNSPECIFIED = 'UNSPECIFIED',
    REDEEM = 'REDEEM',
    REQUEST = 'REQUEST',
    ACCEPT = 'ACCEPT',
    UNPAIR = 'UNPAIR'
  }

  enum __KindValues {
    UNSPECIFIED = 0,
    REDEEM = 1,
    REQUEST = 2,
    ACCEPT = 3,
    UNPAIR = 4
  }

  export namespace Kind {
    export const codec = (): Codec<Kind> => {
      return enumeration<Kind>(__KindValues)
    }
  }

  let _codec: Codec<PairRequest>

  export const codec = (): Codec<PairRequest> => {
    if (_codec == null) {
      _codec = message<PairRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.kind != null && __KindValues[obj.kind] !== 0) {
          w.uint32(8)
          PairRequest.Kind.codec().encode(obj.kind, w)
        }

        if ((obj.token != null && obj.token !== '')) {
          w.uint32(18)
          w.string(obj.token)
        }

        if ((obj.alias != null && obj.alias !== '')) {
          w.uint32(26)
          w.string(obj.alias)
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(34)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          kind: Kind.UNSPECIFIED,
          token: '',
          alias: '',
          addrs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.kind = PairRequest.Kind.codec().decode(reader)
              break
            }
            case 2: {
              obj.token = reader.string()
              break
            }
            case 3: {
              obj.alias = reader.string()
              break
            }
            case 4: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(reader.bytes())
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
          addrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.kind`,
                value: PairRequest.Kind.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.token`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.alias`,
                value: reader.string()
              }
              break
            }
            case 4: {
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

  export interface PairRequestKindFieldEvent {
    field: '$.kind'
    value: PairRequest.Kind
  }

  export interface PairRequestTokenFieldEvent {
    field: '$.token'
    value: string
  }

  export interface PairRequestAliasFieldEvent {
    field: '$.alias'
    value: string
  }

  export interface PairRequestAddrsFieldEvent {
    field: '$.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<PairRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, PairRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PairRequest>): PairRequest {
    return decodeMessage(buf, PairRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PairRequest>): Generator<PairRequestKindFieldEvent | PairRequestTokenFieldEvent | PairRequestAliasFieldEvent | PairRequestAddrsFieldEvent> {
    return streamMessage(buf, PairRequest.codec(), opts)
  }
}

export interface PairResponse {
  status: PairResponse.Status
  error: string
  alias: string
  addrs: Uint8Array<ArrayBuffer>[]
}

export namespace PairResponse {
  export enum Status {
    UNSPECIFIED = 'UNSPECIFIED',
    PAIRED = 'PAIRED',
    PENDING = 'PENDING',
    REFUSED = 'REFUSED',
    UNPAIRED = 'UNPAIRED'
  }

  enum __StatusValues {
    UNSPECIFIED = 0,
    PAIRED = 1,
    PENDING = 2,
    REFUSED = 3,
    UNPAIRED = 4
  }

  export namespace Status {
    export const codec = (): Codec<Status> => {
      return enumeration<Status>(__StatusValues)
    }
  }

  let _codec: Codec<PairResponse>

  export const codec = (): Codec<PairResponse> => {
    if (_codec == null) {
      _codec = message<PairResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null && __StatusValues[obj.status] !== 0) {
          w.uint32(8)
          PairResponse.Status.codec().encode(obj.status, w)
        }

        if ((obj.error != null && obj.error !== '')) {
          w.uint32(18)
          w.string(obj.error)
        }

        if ((obj.alias != null && obj.alias !== '')) {
          w.uint32(26)
          w.string(obj.alias)
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(34)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          status: Status.UNSPECIFIED,
          error: '',
          alias: '',
          addrs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = PairResponse.Status.codec().decode(reader)
              break
            }
            case 2: {
              obj.error = reader.string()
              break
            }
            case 3: {
              obj.alias = reader.string()
              break
            }
            case 4: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(reader.bytes())
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
          addrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.status`,
                value: PairResponse.Status.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.error`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.alias`,
                value: reader.string()
              }
              break
            }
            case 4: {
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

  export interface PairResponseStatusFieldEvent {
    field: '$.status'
    value: PairResponse.Status
  }

  export interface PairResponseErrorFieldEvent {
    field: '$.error'
    value: string
  }

  export interface PairResponseAliasFieldEvent {
    field: '$.alias'
    value: string
  }

  export interface PairResponseAddrsFieldEvent {
    field: '$.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<PairResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, PairResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PairResponse>): PairResponse {
    return decodeMessage(buf, PairResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PairResponse>): Generator<PairResponseStatusFieldEvent | PairResponseErrorFieldEvent | PairResponseAliasFieldEvent | PairResponseAddrsFieldEvent> {
    return streamMessage(buf, PairResponse.codec(), opts)
  }
}
