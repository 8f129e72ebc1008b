// The music library, end to end: two `dds daemon`s on 127.0.0.1 in two temp
// repos, the second bootstrapped to the first. A generated WAV track is
// published on the first with a title and an artist; `dds ls --all` on the
// second lists it; the second's gateway serves a byte range of it (206), as a
// browser's <audio> element asks for it when it seeks.
//
// Run it with:  npm run build && npx node examples/music-library/run.mjs
//               (add --keep to leave both daemons running and play the track
//               in a browser; Ctrl-C stops them)
//
// It exits 0 when all of that worked. README.md in this folder gives the same
// steps as commands to type.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { access, mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makeWav } from './make-wav.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const bin = join(root, 'dist', 'cli', 'bin.js')
const keep = process.argv.includes('--keep')
const TITLE = 'Chord in A'
const ARTIST = 'The Sine Ensemble'

await access(bin).catch(() => {
  console.error(`${bin} is missing; run \`npm run build\` first`)
  process.exit(1)
})

// DDS_* variables of the caller's shell (DDS_BOOTSTRAP, DDS_API ...) would
// point these throwaway daemons and commands at the caller's own node
const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('DDS_')))

/** Runs a dds command to its end; resolves to its stdout, throws with its stderr on a non-zero exit. */
async function dds (...args) {
  const child = spawn(process.execPath, [bin, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (b) => { stdout += b })
  child.stderr.on('data', (b) => { stderr += b })
  const [code] = await once(child, 'close')
  if (code !== 0) {
    throw new Error(`dds ${args.join(' ')} exited with ${code}: ${stderr.trim()}`)
  }
  return stdout
}

/** Starts `dds daemon --json` and waits for the line it prints once ready. */
async function daemon (repo, ...args) {
  const child = spawn(process.execPath, [bin, 'daemon', '--repo', repo, '--listen', '/ip4/127.0.0.1/tcp/0',
    '--gateway', '127.0.0.1:0', '--replication-factor', '1', '--json', ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  let stdout = ''
  const info = await new Promise((resolve, reject) => {
    child.stdout.on('data', (b) => {
      stdout += b
      const line = stdout.split('\n').find(l => l.startsWith('{'))
      if (line != null) resolve(JSON.parse(line))
    })
    child.once('exit', (code) => reject(new Error(`dds daemon exited with ${code}`)))
  })
  return { ...info, repo, child }
}

async function stop (node) {
  if (node == null || node.child.exitCode != null) return
  node.child.kill('SIGTERM')
  await once(node.child, 'exit')
}

const dir = await mkdtemp(join(tmpdir(), 'dds-music-'))
let a
let b
try {
  const track = join(dir, 'chord-in-a.wav')
  const size = await makeWav(track, 20)
  console.log(`generated ${track} (${size} bytes)`)

  a = await daemon(join(dir, 'a'))
  console.log(`node A ${a.peer}: gateway ${a.gateway}`)
  b = await daemon(join(dir, 'b'), '--bootstrap', a.addrs[0])
  console.log(`node B ${b.peer}: gateway ${b.gateway} (bootstrapped to A)`)

  const cid = (await dds('publish', track, '--repo', a.repo, '--name', 'chord-in-a.wav', '--media-type', 'audio/wav',
    '--meta', `title=${TITLE}`, '--meta', `artist=${ARTIST}`)).trim()
  console.log(`A published the track: ${cid}`)

  console.log('\n$ dds ls --all   (on B)')
  console.log((await dds('ls', '--all', '--repo', b.repo)).trimEnd())
  const all = JSON.parse(await dds('ls', '--all', '--json', '--repo', b.repo))
  const listed = all.peers.find(p => p.peer === a.peer)?.entries.find(e => e.cid === cid)
  if (listed?.metadata.title !== TITLE || listed?.metadata.artist !== ARTIST) {
    throw new Error('B does not list the track with its title and artist')
  }
  console.log(`\nB lists "${listed.metadata.title}" by ${listed.metadata.artist} from A`)

  // what a browser's <audio> asks for when it seeks into the middle
  const from = Math.floor(size / 2)
  const response = await fetch(`${b.gateway}/dds/${cid}`, { headers: { range: `bytes=${from}-${from + 65535}` } })
  const body = Buffer.from(await response.arrayBuffer())
  const expected = Buffer.alloc(65536)
  const file = await open(track)
  await file.read(expected, 0, expected.length, from)
  await file.close()
  if (response.status !== 206 || !body.equals(expected)) {
    throw new Error(`B's gateway answered ${response.status} with ${body.length} bytes for the range, not 206 with the track's bytes`)
  }
  console.log(`B's gateway answered 206 (${response.headers.get('content-range')}, ${response.headers.get('content-type')}) with the track's exact bytes`)
  console.log(`play it: open ${b.gateway}/ in a browser`)

  if (keep) {
    console.log('both daemons keep running; Ctrl-C stops them')
    await new Promise(resolve => { process.once('SIGINT', resolve); process.once('SIGTERM', resolve) })
  }
  console.log('music library example finished')
} catch (err) {
  console.error(`music library example failed: ${err.message}`)
  process.exitCode = 1
} finally {
  await Promise.all([stop(b), stop(a)])
  await rm(dir, { recursive: true, force: true })
}
