/**
 * A real browser plays a track from the gateway's `/` page: headless
 * Chromium (Debian's /usr/bin/chromium, driven by playwright-core) loads the
 * page, plays the track's <audio>, seeks into its middle, and keeps playing
 * from there, the media stack fetching the track with 206 range requests;
 * and an album listed as one entry plays its tracks in order.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { chromium, type BrowserContext } from 'playwright-core'
import type { Dds } from '../../src/index.js'
import type { Gateway } from '../../src/gateway/index.js'
import { Gateways } from './helpers.js'
import { Cluster } from '../utils/cluster.js'

const CHROMIUM = '/usr/bin/chromium'

/**
 * Flags for headless Chromium in a container. `--no-sandbox`: no user
 * namespaces for its sandbox here. `--autoplay-policy=no-user-gesture-required`:
 * `audio.play()` from a script without a click. The rest keep a test browser
 * quiet and off the network (no QUIC, no background fetches). No audio flag
 * is needed: with no sound card nor sound server, Chromium 156 plays through
 * a fake output whose clock advances, and `--mute-audio` or
 * `--disable-features=AudioServiceOutOfProcess` changed nothing here.
 */
const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required'
]

/** A PCM WAV file: 16-bit, stereo, a sine tone. */
function wav (seconds: number, sampleRate = 48_000, channels = 2, hz = 440): Uint8Array {
  const frames = seconds * sampleRate
  const dataBytes = frames * channels * 2
  const out = Buffer.alloc(44 + dataBytes)
  out.write('RIFF', 0, 'ascii')
  out.writeUInt32LE(36 + dataBytes, 4)
  out.write('WAVE', 8, 'ascii')
  out.write('fmt ', 12, 'ascii')
  out.writeUInt32LE(16, 16) // fmt chunk size
  out.writeUInt16LE(1, 20) // PCM
  out.writeUInt16LE(channels, 22)
  out.writeUInt32LE(sampleRate, 24)
  out.writeUInt32LE(sampleRate * channels * 2, 28) // bytes per second
  out.writeUInt16LE(channels * 2, 32) // bytes per frame
  out.writeUInt16LE(16, 34) // bits per sample
  out.write('data', 36, 'ascii')
  out.writeUInt32LE(dataBytes, 40)
  for (let i = 0; i < frames; i++) {
    const sample = Math.round(Math.sin(2 * Math.PI * hz * i / sampleRate) * 0.3 * 32767)
    for (let c = 0; c < channels; c++) {
      out.writeInt16LE(sample, 44 + (i * channels + c) * 2)
    }
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength)
}

const HAS_CHROMIUM = existsSync(CHROMIUM)

describe('the / page in Chromium', () => {
  const cluster = new Cluster()
  const gateways = new Gateways()
  /** 30 s of 48 kHz stereo: 5.5 MiB, 22 chunks, more than Chromium reads ahead before playing. */
  const SECONDS = 30
  const track = wav(SECONDS)
  let node: Dds
  let gateway: Gateway
  let cid: string
  let profile: string
  let context: BrowserContext | undefined

  beforeAll(async () => {
    node = await cluster.node()
    gateway = await gateways.start(node)
    cid = await node.publish(track, { name: 'tone.wav', mediaType: 'audio/wav', metadata: { title: 'A Tone <440 Hz>', artist: 'Sine & Co' } })
    profile = await mkdtemp(join(tmpdir(), 'dds-chromium-'))
  })
  afterAll(async () => {
    await context?.close()
    await gateways.close()
    await cluster.stop()
    await rm(profile, { recursive: true, force: true })
  })

  it.skipIf(!HAS_CHROMIUM)(`plays a track, seeks into its middle and plays on, fetched with range requests${HAS_CHROMIUM ? '' : ` (skipped: no Chromium at ${CHROMIUM})`}`, async () => {
    context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true })
    const page = await context.newPage()
    const ranges: Array<{ status: number, contentRange?: string }> = []
    page.on('response', (response) => {
      if (new URL(response.url()).pathname === `/dds/${cid}`) {
        ranges.push({ status: response.status(), contentRange: response.headers()['content-range'] })
      }
    })

    await page.goto(gateway.url)
    const row = page.locator('tr', { hasText: 'A Tone <440 Hz>' })
    await expect(row.locator('.artist').textContent()).resolves.toBe('Sine & Co')
    const audio = row.locator('audio')
    await expect(audio.getAttribute('src')).resolves.toBe(`/dds/${cid}`)

    await audio.evaluate(async (el: HTMLAudioElement) => { await el.play() })
    await audio.evaluate(async (el: HTMLAudioElement) => new Promise<void>((resolve) => {
      const check = (): void => { if (el.currentTime > 0.5) { resolve() } else { setTimeout(check, 50) } }
      check()
    }))
    const duration = await audio.evaluate((el: HTMLAudioElement) => el.duration)
    expect(duration).toBeCloseTo(SECONDS, 0)

    // seek to 80%: past what Chromium has read ahead, so it asks for a later range
    const target = SECONDS * 0.8
    await audio.evaluate((el: HTMLAudioElement, t: number) => { el.currentTime = t }, target)
    const after = await audio.evaluate(async (el: HTMLAudioElement, t: number) => new Promise<number>((resolve) => {
      const check = (): void => { if (!el.seeking && el.currentTime > t + 0.5) { resolve(el.currentTime) } else { setTimeout(check, 50) } }
      check()
    }), target)
    expect(after).toBeGreaterThan(target)
    const error = await audio.evaluate((el: HTMLAudioElement) => el.error?.message ?? null)
    expect(error).toBeNull()

    expect(ranges.length).toBeGreaterThanOrEqual(2)
    expect(ranges.every(r => r.status === 206)).toBe(true)
    const starts = ranges.map(r => Number(/^bytes (\d+)-/.exec(r.contentRange ?? '')?.[1]))
    expect(starts).toContain(0)
    expect(starts.some(start => start > track.byteLength / 2)).toBe(true)
    await page.close()
  })

  it.skipIf(!HAS_CHROMIUM)(`lists an album as one entry with its tracks, and plays the next track when one ends${HAS_CHROMIUM ? '' : ` (skipped: no Chromium at ${CHROMIUM})`}`, async () => {
    const album = await node.publish([
      { path: '01 low.wav', content: wav(2, 48_000, 2, 220), mediaType: 'audio/wav', metadata: { title: 'Low' } },
      { path: '02 high.wav', content: wav(2, 48_000, 2, 880), mediaType: 'audio/wav', metadata: { title: 'High' } }
    ], { name: 'Two Tones', metadata: { artist: 'Sine & Co' } })
    context ??= await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true })
    const page = await context.newPage()
    const errors: string[] = []
    page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()) })
    await page.goto(gateway.url)
    const row = page.locator(`tr[data-cid="${album}"]`)
    await expect(row.locator('.title').textContent()).resolves.toBe('Two Tones')
    const tracks = page.locator(`ol.album[data-cid="${album}"] li`)
    await expect(tracks.count()).resolves.toBe(2)
    await expect(tracks.nth(0).locator('.track').textContent()).resolves.toBe('Low')
    const [first, second] = [tracks.nth(0).locator('audio'), tracks.nth(1).locator('audio')]
    await expect(second.getAttribute('src')).resolves.toBe(`/dds/${album}/02%20high.wav`)
    // the first track from its last half second: when it ends, the page's script starts the second
    await first.evaluate(async (el: HTMLAudioElement) => {
      await new Promise<void>((resolve) => { if (el.readyState >= 1) { resolve() } else { el.addEventListener('loadedmetadata', () => { resolve() }, { once: true }); el.load() } })
      el.currentTime = el.duration - 0.5
      await el.play()
    })
    const started = await second.evaluate(async (el: HTMLAudioElement) => new Promise<number>((resolve) => {
      const check = (): void => { if (el.currentTime > 0.2) { resolve(el.currentTime) } else { setTimeout(check, 50) } }
      check()
    }))
    expect(started).toBeGreaterThan(0.2)
    expect(errors).toEqual([])
    await page.close()
  })
})
