/**
 * A throwaway sshd on a high loopback port, for benchmarks that compare with
 * ssh. Installs openssh (apt, as root) when missing; keys and config live in
 * a temp dir; everything is removed by `stop()`.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, writeFile, rm, chmod, mkdir } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createConnection } from 'node:net'

export interface Sshd {
  /** ssh arguments up to and including the host: append the remote command */
  sshArgs: string[]
  stop (): Promise<void>
}

function ensureOpenssh (): void {
  if (existsSync('/usr/sbin/sshd') && existsSync('/usr/bin/ssh')) return
  if (process.getuid?.() !== 0) throw new Error('openssh-server is not installed and installing it needs root')
  process.stderr.write('installing openssh-server and openssh-client (apt)…\n')
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'openssh-server', 'openssh-client'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
}

export async function startSshd (port = 40000 + Math.floor(Math.random() * 20000)): Promise<Sshd> {
  ensureOpenssh()
  const dir = await mkdtemp(join(tmpdir(), 'kappa-sshd-'))
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'hostkey')])
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')])
  await writeFile(join(dir, 'authorized_keys'), execFileSync('cat', [join(dir, 'id.pub')]))
  await chmod(join(dir, 'authorized_keys'), 0o600)
  await writeFile(join(dir, 'sshd_config'), [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'hostkey')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, 'PasswordAuthentication no', 'KbdInteractiveAuthentication no',
    'StrictModes no', 'UsePAM no', `PidFile ${join(dir, 'sshd.pid')}`, ''
  ].join('\n'))
  await mkdir('/run/sshd', { recursive: true }).catch(() => {})
  const proc: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] })
  await waitForPort(port)
  const sshArgs = [
    '-p', String(port), '-i', join(dir, 'id'),
    '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'LogLevel=ERROR',
    '-o', `ControlPath=${join(dir, 'cm')}`, '-o', 'ControlMaster=auto', '-o', 'ControlPersist=300',
    '-o', 'BatchMode=yes', '127.0.0.1'
  ]
  // open the master connection once: every timed ssh reuses it
  execFileSync('ssh', [...sshArgs, 'true'])
  return {
    sshArgs,
    async stop () {
      try { execFileSync('ssh', [...sshArgs.slice(0, -1), '-O', 'exit', '127.0.0.1'], { stdio: 'ignore' }) } catch {}
      proc.kill('SIGTERM')
      await rm(dir, { recursive: true, force: true })
    }
  }
}

async function waitForPort (port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = createConnection(port, '127.0.0.1')
      s.once('connect', () => { s.destroy(); resolve(true) })
      s.once('error', () => { resolve(false) })
    })
    if (ok) return
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  throw new Error(`sshd did not start on port ${port}`)
}
