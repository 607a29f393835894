import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { copyFile, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parse } from 'yaml'
import { REPO, cleanup, tmpDir } from '../helpers/node.js'

async function run (cmd: string, args: string[]): Promise<{ code: number, output: string }> {
  return await new Promise((resolve) => {
    execFile(cmd, args, (err, stdout, stderr) => { resolve({ code: err == null ? 0 : (err as any).code ?? 1, output: stdout + stderr }) })
  })
}

/** instructions of the Dockerfile's last stage, continuation lines joined */
async function finalStage (): Promise<Array<[string, string]>> {
  const text = (await readFile(join(REPO, 'Dockerfile'), 'utf8')).replace(/\\\n/g, ' ')
  const steps = text.split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#')).map((l): [string, string] => {
    const i = l.indexOf(' ')
    return [l.slice(0, i).toUpperCase(), l.slice(i + 1).trim()]
  })
  const last = steps.map(([k]) => k).lastIndexOf('FROM')
  return steps.slice(last)
}

describe('packaging: LICENSE, Docker image, systemd units', function () {
  this.timeout(60_000)
  afterEach(cleanup)

  it('LICENSE is the MIT licence package.json names', async () => {
    const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8'))
    assert.equal(pkg.license, 'MIT')
    assert.match(await readFile(join(REPO, 'LICENSE'), 'utf8'), /^MIT License\n[\s\S]*Permission is hereby granted, free of charge/)
  })

  it('the image holds production dependencies only, runs as a user, checks its health, and can expose the dashboard', async () => {
    const stage = await finalStage()
    const runs = stage.filter(([k]) => k === 'RUN').map(([, v]) => v).join('\n')
    assert.match(runs, /npm ci --omit=dev\b/)
    assert.doesNotMatch(stage.filter(([k]) => k === 'COPY').map(([, v]) => v).join('\n'), /^\. \./m, 'the build context (sources, dev tools) stays in the build stage')
    const user = stage.find(([k]) => k === 'USER')?.[1]
    assert.ok(user != null && user !== 'root' && user !== '0', `USER ${String(user)}`)
    const health = stage.find(([k]) => k === 'HEALTHCHECK')?.[1] ?? ''
    assert.match(health, /CMD .*kappa-node/)
    assert.match(stage.find(([k]) => k === 'EXPOSE')?.[1] ?? '', /\b4748\b/)
    const compose = parse(await readFile(join(REPO, 'docker-compose.yml'), 'utf8'), { merge: true })
    const a = compose.services.a
    assert.match(String(a.environment.KAPPA_HTTP), /^0\.0\.0\.0:4748$/, 'inside the container the dashboard listens on every interface')
    assert.ok((a.ports as string[]).some(p => /:4748:4748$/.test(p)), 'and the host reaches it')
  })

  it('the systemd units pass systemd-analyze verify and start kappa-node in the foreground, reload measuring again', async function () {
    const user = await readFile(join(REPO, 'contrib/systemd/user/kappa-node.service'), 'utf8')
    const system = await readFile(join(REPO, 'contrib/systemd/kappa-node@.service'), 'utf8')
    for (const unit of [user, system]) {
      assert.match(unit, /^ExecStart=.*kappa-node start$/m)
      assert.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m)
      assert.match(unit, /^Restart=on-failure$/m)
    }
    assert.match(system, /^User=%i$/m)
    if (!existsSync('/usr/bin/systemd-analyze')) {
      console.log('      (systemd-analyze not installed: units checked by reading only)')
      return
    }
    const dir = await tmpDir('kappa-units-')
    await copyFile(join(REPO, 'contrib/systemd/user/kappa-node.service'), join(dir, 'kappa-node.service'))
    await copyFile(join(REPO, 'contrib/systemd/kappa-node@.service'), join(dir, 'kappa-node@.service'))
    const u = await run('systemd-analyze', ['verify', join(dir, 'kappa-node.service')])
    assert.equal(u.output.trim(), '', u.output)
    const s = await run('systemd-analyze', ['verify', join(dir, 'kappa-node@alice.service')])
    // the only complaint allowed: kappa-node is not installed in /usr/local/bin on this machine
    const problems = s.output.split('\n').filter(l => l.trim() !== '' && !/\/usr\/local\/bin\/kappa-node is not executable/.test(l))
    assert.deepEqual(problems, [])
  })
})
