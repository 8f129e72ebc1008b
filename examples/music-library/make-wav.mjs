// Writes a WAV track: an A major chord (A4, C#5, E5) with a slow tremolo,
// PCM 16-bit, mono, 44.1 kHz, 20 seconds (about 1.7 MB) by default.
//
// Run it with:  node examples/music-library/make-wav.mjs track.wav [seconds]
//
// It needs nothing but Node.js and writes the samples a block at a time.
import { open } from 'node:fs/promises'
import { pathToFileURL } from 'node:url'

const SAMPLE_RATE = 44100
const CHORD_HZ = [440, 554.37, 659.25]
const BLOCK_SAMPLES = 44100

/** Writes `seconds` of the chord to `path` as a 16-bit PCM WAV file; resolves to its size in bytes. */
export async function makeWav (path, seconds = 20) {
  const samples = Math.round(SAMPLE_RATE * seconds)
  const dataBytes = samples * 2
  const header = Buffer.alloc(44)
  header.write('RIFF', 0, 'ascii')
  header.writeUInt32LE(36 + dataBytes, 4)
  header.write('WAVE', 8, 'ascii')
  header.write('fmt ', 12, 'ascii')
  header.writeUInt32LE(16, 16) // fmt chunk size
  header.writeUInt16LE(1, 20) // PCM
  header.writeUInt16LE(1, 22) // mono
  header.writeUInt32LE(SAMPLE_RATE, 24)
  header.writeUInt32LE(SAMPLE_RATE * 2, 28) // byte rate
  header.writeUInt16LE(2, 32) // block align
  header.writeUInt16LE(16, 34) // bits per sample
  header.write('data', 36, 'ascii')
  header.writeUInt32LE(dataBytes, 40)
  const file = await open(path, 'w')
  try {
    await file.write(header)
    for (let start = 0; start < samples; start += BLOCK_SAMPLES) {
      const count = Math.min(BLOCK_SAMPLES, samples - start)
      const block = Buffer.alloc(count * 2)
      for (let i = 0; i < count; i++) {
        const t = (start + i) / SAMPLE_RATE
        const fade = Math.min(1, t / 0.5, (seconds - t) / 0.5) // no clicks at either end
        const tremolo = 0.8 + 0.2 * Math.sin(2 * Math.PI * 0.5 * t)
        let value = 0
        for (const hz of CHORD_HZ) {
          value += Math.sin(2 * Math.PI * hz * t)
        }
        block.writeInt16LE(Math.round(value / CHORD_HZ.length * fade * tremolo * 0.6 * 32767), i * 2)
      }
      await file.write(block)
    }
  } finally {
    await file.close()
  }
  return 44 + dataBytes
}

if (process.argv[1] != null && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const path = process.argv[2]
  const seconds = Number(process.argv[3] ?? 20)
  if (path == null || !(seconds > 0 && seconds <= 3600)) {
    console.error('usage: node make-wav.mjs FILE.wav [seconds (1-3600), default 20]')
    process.exit(2)
  }
  const size = await makeWav(path, seconds)
  console.log(`wrote ${path}: ${seconds} s, ${size} bytes`)
}
