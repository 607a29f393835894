import { createServer, createConnection, type Server, type Socket } from 'node:net'
import { chmod, unlink } from 'node:fs/promises'
import { InUseError, UserError, errorMessage } from '../errors.js'
import { CONTROL_MAX_LINE_BYTES, CONTROL_TIMEOUT_MS } from '../constants.js'
import type { ControlMethod, ControlRequest, ControlResponse } from './index.js'
import { debugLogger, logged } from '../debug.js'

const debug = debugLogger('control')

/** A method that owns the socket after its request line (e.g. a job's stdio). */
export type StreamingMethod = (params: Record<string, unknown>, socket: Socket, rest: Buffer) => Promise<void>

export interface ControlServerInit {
  path: string
  methods: Record<string, ControlMethod>
  streaming?: Record<string, StreamingMethod>
  log: (line: string) => void
}

export interface ControlServer {
  close (): Promise<void>
}

export async function startControlServer (init: ControlServerInit): Promise<ControlServer> {
  await removeStaleSocket(init.path)
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    serve(socket, init)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    // the socket is created with the umask; tighten it before anyone can use it
    const oldMask = process.umask(0o177)
    server.listen(init.path, () => {
      process.umask(oldMask)
      server.off('error', reject)
      resolve()
    })
  })
  await chmod(init.path, 0o600)
  return {
    async close () {
      for (const s of sockets) s.destroy()
      await new Promise<void>(resolve => { (server as Server).close(() => { resolve() }) })
      await unlink(init.path).catch(logged(debug, 'removing the socket file'))
    }
  }
}

/** A socket file left by a killed daemon is removed; a live daemon on it is an error. */
export async function removeStaleSocket (path: string): Promise<void> {
  const alive = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path)
    probe.once('connect', () => { probe.destroy(); resolve(true) })
    probe.once('error', () => { resolve(false) })
  })
  if (alive) throw new InUseError(`another kappa-node is already running with this home (${path})`)
  await unlink(path).catch(logged(debug, 'removing a stale socket file'))
}

function serve (socket: Socket, init: ControlServerInit): void {
  let buffered = Buffer.alloc(0)
  socket.setTimeout(CONTROL_TIMEOUT_MS, () => socket.destroy())
  const onData = (chunk: Buffer): void => {
    buffered = Buffer.concat([buffered, chunk])
    const nl = buffered.indexOf(0x0a)
    if (nl < 0) {
      if (buffered.length > CONTROL_MAX_LINE_BYTES) {
        socket.off('data', onData)
        reply(socket, { ok: false, error: `request too large (over ${CONTROL_MAX_LINE_BYTES} bytes)`, code: 'BAD_INPUT' })
      }
      return
    }
    socket.off('data', onData)
    const line = buffered.subarray(0, nl).toString('utf8')
    const rest = buffered.subarray(nl + 1)
    void dispatch(socket, line, rest, init)
  }
  socket.on('data', onData)
}

async function dispatch (socket: Socket, line: string, rest: Buffer, init: ControlServerInit): Promise<void> {
  let request: ControlRequest
  try {
    request = JSON.parse(line)
    if (typeof request?.method !== 'string') throw new Error('missing method')
  } catch (err) {
    reply(socket, { ok: false, error: `malformed request: ${errorMessage(err)}`, code: 'BAD_INPUT' })
    return
  }
  const params = (request.params != null && typeof request.params === 'object') ? request.params : {}
  const streaming = init.streaming?.[request.method]
  if (streaming != null && Object.hasOwn(init.streaming ?? {}, request.method)) {
    socket.setTimeout(0)
    try {
      await streaming(params, socket, rest)
    } catch (err) {
      if (!(err instanceof UserError)) init.log(`control: ${request.method} failed: ${errorMessage(err)}`)
      socket.destroy()
    }
    return
  }
  const method = Object.hasOwn(init.methods, request.method) ? init.methods[request.method] : undefined
  if (method == null) {
    reply(socket, { ok: false, error: `unknown method '${request.method}' (is the daemon older than this client?)`, code: 'BAD_INPUT' })
    return
  }
  const requestScope = new AbortController()
  socket.once('close', () => { requestScope.abort(new Error('the client hung up')) })
  try {
    const result = await method(params, { signal: requestScope.signal })
    reply(socket, { ok: true, result: result ?? null })
  } catch (err) {
    if (!(err instanceof UserError)) init.log(`control: ${request.method} failed: ${errorMessage(err)}`)
    reply(socket, err instanceof UserError ? { ok: false, error: err.message, code: err.code } : { ok: false, error: `internal error: ${errorMessage(err)}`, code: 'FAILED' })
  }
}

function reply (socket: Socket, response: ControlResponse): void {
  if (socket.destroyed) return
  socket.end(JSON.stringify(response) + '\n')
}
