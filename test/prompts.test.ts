import assert from 'node:assert/strict'
import { promptOnEvents, type PromptDaemon } from '../src/cli/prompts.js'
import { createEventLog } from '../src/daemon/log.js'

const EARLY = '12D3KooWEaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'
const LATE = '12D3KooWLbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'
const LAN = '12D3KooWNcccccccccccccccccccccccccccccccccccccccccccccc'

describe('the interactive pairing prompt of start', () => {
  it('asks first about what arrived before the banner, one question at a time, and holds log lines while a question is open', async () => {
    const printed: string[] = []
    const log = createEventLog({ json: false, journald: false, out: { write: (s: string) => { printed.push(s); return true } } as any })
    const pending = [{ id: EARLY, alias: 'early', addrs: ['/ip4/10.0.0.2/tcp/4747'], receivedAt: Date.now() }]
    const accepted: string[] = []
    const daemon = {
      events: log,
      log,
      trust: { get: () => undefined },
      nearby: { list: () => [{ id: LAN, addrs: [`/ip4/10.0.0.3/tcp/4747/p2p/${LAN}`], lastSeenMs: 10 }] },
      pairing: {
        requests: () => pending,
        accept: async (id: string) => { accepted.push(id); return { status: 'paired', id, alias: id === EARLY ? 'early' : undefined } },
        pair: async () => ({ status: 'pending', id: LAN })
      }
    } as unknown as PromptDaemon
    const questions: string[] = []
    const answers: Array<(yes: boolean) => void> = []
    const said: string[] = []
    promptOnEvents(daemon, async (message) => { questions.push(message); return await new Promise<boolean>(resolve => answers.push(resolve)) }, (line) => { said.push(line) })

    await new Promise(resolve => setImmediate(resolve))
    assert.equal(questions.length, 1, 'one question at a time')
    assert.match(questions[0], new RegExp(`^Pair with early ${EARLY}`))
    // a log line and a new request while the question is open: nothing printed over it
    log.emit({ type: 'info', message: 'something happened' })
    pending.push({ id: LATE, alias: 'late', addrs: [], receivedAt: Date.now() })
    log.emit({ type: 'pair-request', id: LATE, alias: 'late', addrs: [] })
    assert.deepEqual(printed, [])
    answers[0](true)
    await new Promise(resolve => setTimeout(resolve, 10))
    assert.deepEqual(accepted, [EARLY])
    assert.deepEqual(said, ['paired with early'])
    assert.equal(printed.length, 2, 'the held lines come out after the answer')
    assert.match(printed[0], /INFO {2}something happened/)
    assert.match(questions[1], new RegExp(`Found kappa node ${LAN} on the LAN`), 'then the LAN node seen before the banner')
    answers[1](false)
    await new Promise(resolve => setTimeout(resolve, 10))
    assert.match(questions[2], /^Pair with late /)
    log.emit({ type: 'discovered', id: LAN, addrs: [`/ip4/10.0.0.3/tcp/4747/p2p/${LAN}`] })
    answers[2](false)
    await new Promise(resolve => setTimeout(resolve, 10))
    assert.equal(questions.length, 3, 'mDNS repeating itself is not asked again')
  })
})
