import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface MetricUpdate {
  sendProbe: number
  sysmetric: number
  seq: bigint
  delayMs: number
}

export namespace MetricUpdate {
  let _codec: Codec<MetricUpdate>

  export const codec = (): Codec<MetricUpdate> => {
    if (_codec == null) {
      _codec = message<MetricUpdate>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.sendProbe != null && obj.sendProbe !== 0)) {
          w.uint32(9)
          w.double(obj.sendProbe)
        }

        if ((obj.sysmetric != null && obj.sysmetric !== 0)) {
          w.uint32(17)
          w.double(obj.sysmetric)
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(24)
          w.uint64(obj.seq)
        }

        if ((obj.delayMs != null && obj.delayMs !== 0)) {
          w.uint32(32)
          w.uint32(obj.delayMs)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          sendProbe: 0,
          sysmetric: 0,
          seq: 0n,
          delayMs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.sendProbe = reader.double()
              break
            }
            case 2: {
              obj.sysmetric = reader.double()
              break
            }
            case 3: {
              obj.seq = reader.uint64()
              break
            }
            case 4: {
              obj.delayMs = reader.uint32()
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
                field: `${prefix}.sendProbe`,
                value: reader.double()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.sysmetric`,
                value: reader.double()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.delayMs`,
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

  export interface MetricUpdateSendProbeFieldEvent {
    field: '$.sendProbe'
    value: number
  }

  export interface MetricUpdateSysmetricFieldEvent {
    field: '$.sysmetric'
    value: number
  }

  export interface MetricUpdateSeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export interface MetricUpdateDelayMsFieldEvent {
    field: '$.delayMs'
    value: number
  }

  export function encode (obj: Partial<MetricUpdate>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, MetricUpdate.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MetricUpdate>): MetricUpdate {
    return decodeMessage(buf, MetricUpdate.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MetricUpdate>): Generator<MetricUpdateSendProbeFieldEvent | MetricUpdateSysmetricFieldEvent | MetricUpdateSeqFieldEvent | MetricUpdateDelayMsFieldEvent> {
    return streamMessage(buf, MetricUpdate.codec(), opts)
  }
}
