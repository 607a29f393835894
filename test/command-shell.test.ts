import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { cleanup, onCleanup, tmpDir } from './helpers/node.js'
import { CommandShell, shellQuote } from '../src/workspace/command-shell.js'

describe('command shell (mount and umount without a spawn each)', () => {
  let shell: CommandShell
  let dir: string
  beforeEach(async () => {
    shell = new CommandShell()
    onCleanup(async () => { shell.close() })
    dir = await tmpDir('kappa-shell-')
  })
  afterEach(cleanup)

  it('runs commands in order, and a failure says the command and its stderr', async () => {
    await shell.run('mkdir', [join(dir, 'a')])
    await shell.run('mkdir', [join(dir, 'a', 'b')])
    assert.ok(existsSync(join(dir, 'a', 'b')))
    await assert.rejects(shell.run('mkdir', [join(dir, 'a')]), /^Error: mkdir: mkdir: cannot create directory .*File exists$/)
    await assert.rejects(shell.run('sh', ['-c', 'exit 3']), /^Error: sh: exit 3$/)
    // the shell goes on after a failure
    await shell.run('rmdir', [join(dir, 'a', 'b')])
    assert.ok(!existsSync(join(dir, 'a', 'b')))
  })

  it('passes arguments literally: quotes, $(…), ; and globs are not the shell\'s', async () => {
    const evil = join(dir, "it's $(touch pwned); `touch pwned2` * ?")
    await shell.run('mkdir', [evil])
    assert.ok(existsSync(evil))
    assert.ok(!existsSync('pwned') && !existsSync(join(dir, 'pwned')) && !existsSync('pwned2'))
    assert.throws(() => shellQuote('a\nb'), /newline or NUL/)
    await assert.rejects(shell.run('mkdir', [join(dir, 'x\ny')]), /newline or NUL/)
  })

  it('a shell that dies fails the command it ran, and the next command gets a new shell', async () => {
    await shell.run('true', [])
    const pid = shell.pid as number
    const pending = shell.run('sleep', ['3'])
    process.kill(pid, 'SIGKILL')
    await assert.rejects(pending, /the command shell ended \(SIGKILL\)/)
    await shell.run('mkdir', [join(dir, 'after')])
    assert.ok(existsSync(join(dir, 'after')))
  })
})
