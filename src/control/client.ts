import { createConnection, type OnReadOpts, type Socket } from 'node:net'
import { homeFile } from '../home/paths.js'
import { NotRunningError, RefusedError, TimedOutError, UnreachableError, UserError, errorFromCode } from '../errors.js'
import { CONTROL_MAX_LINE_BYTES, CONTROL_TIMEOUT_MS } from '../constants.js'
import type { ControlResponse } from './index.js'
import type { ControlMethodName, ParamsOf, ResultOf } from './methods.js'

export function notRunningMessage (home: string): string {
  const flag = process.env.KAPPA_HOME === home ? '' : ` --home ${home}`
  return `the node is not running (home ${home}); start it with: kappa-node start${flag}`
}

/** Connect to the daemon's socket; a missing or dead socket is "not running". `onread`: read into one reused buffer. */
export async function openDaemonSocket (home: string, onread?: OnReadOpts): Promise<Socket> {
  const path = homeFile(home, 'control')
  return await new Promise<Socket>((resolve, reject) => {
    const socket = createConnection({ path, onread })
    socket.once('connect', () => { socket.removeAllListeners('error'); resolve(socket) })
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'ENOTSOCK') reject(new NotRunningError(notRunningMessage(home)))
      else if (err.code === 'EACCES') reject(new RefusedError(`cannot open ${path}: permission denied (the daemon belongs to another user)`))
      else reject(new UnreachableError(`cannot reach the daemon at ${path}: ${err.message}`))
    })
  })
}

/** One request, one response; the answer's type is the method's in src/control/methods.ts. */
export async function callDaemon<M extends ControlMethodName> (home: string, method: M, params: ParamsOf<M> | Record<string, never> = {}, timeoutMs = CONTROL_TIMEOUT_MS): Promise<ResultOf<M>> {
  type T = ResultOf<M>
  const socket = await openDaemonSocket(home)
  return await new Promise<T>((resolve, reject) => {
    let buffered = ''
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new TimedOutError(`the daemon did not answer '${method}' within ${Math.round(timeoutMs / 1000)} s`))
    }, timeoutMs)
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      buffered += chunk
      if (buffered.length > CONTROL_MAX_LINE_BYTES) socket.destroy(new Error('response too large'))
    })
    socket.on('error', (err) => { clearTimeout(timer); reject(new UnreachableError(`lost the daemon connection: ${err.message}`)) })
    socket.on('end', () => {
      clearTimeout(timer)
      let response: ControlResponse
      try {
        response = JSON.parse(buffered)
      } catch {
        reject(new UserError('the daemon sent a malformed answer'))
        return
      }
      if (response.ok) resolve(response.result as T)
      else reject(errorFromCode(response.code, response.error))
    })
    socket.write(JSON.stringify({ method, params }) + '\n')
  })
}
