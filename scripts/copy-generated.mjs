// Copies the generated protobuf module into dist/ after tsc has compiled the rest.
import { cpSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
cpSync(join(root, 'src', 'pb', 'generated'), join(root, 'dist', 'pb', 'generated'), { recursive: true })
