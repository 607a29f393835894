import { BadInputError } from '../errors.js'

export interface HttpAddress {
  host: string
  port: number
}

/** `host:port`, `[v6]:port` or a bare port (on 127.0.0.1): what `--http` takes. */
export function parseHttpAddress (listen: string): HttpAddress {
  const at = listen.lastIndexOf(':')
  const host = at > 0 ? listen.slice(0, at).replace(/^\[(.*)\]$/, '$1') : '127.0.0.1'
  const portText = at > 0 ? listen.slice(at + 1) : listen
  const port = Number(portText)
  if (portText === '' || !/^\d+$/.test(portText) || !Number.isInteger(port) || port > 65535 || host === '' || /[\s/]/.test(host)) {
    throw new BadInputError(`bad --http address '${listen}': use host:port, e.g. 127.0.0.1:4748`, 2)
  }
  return { host, port }
}
