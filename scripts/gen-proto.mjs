// Generates the static protobufjs module and its typings from protos/.
// Run by `npm run gen:proto` (and so by build, test and prepare); the output in
// src/pb/generated/ is never edited by hand nor committed.
import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const outDir = join(root, 'src', 'pb', 'generated')
mkdirSync(outDir, { recursive: true })

const pbjs = join(root, 'node_modules', 'protobufjs-cli', 'bin', 'pbjs')
execFileSync(process.execPath, [
  pbjs,
  '--target', 'static-module',
  '--wrap', 'esm',
  '--force-number',
  '--no-verify', '--no-convert', '--no-delimited', '--no-typeurl', '--no-service',
  '--out', join(outDir, 'dds_messages.js'),
  '--dts',
  join(root, 'protos', 'dds_messages.proto')
], { stdio: 'inherit', cwd: root })
