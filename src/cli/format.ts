/**
 * Human output of the client commands: sizes, tables, key/value lines.
 *
 * @module
 */

import { oneLine } from './errors.js'

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

/** `1536` -> `1.5 KiB`. */
export function formatBytes (bytes: number): string {
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${UNITS[unit]}`
}

/** Longest cell text a table shows before it cuts it with `…`. */
const MAX_CELL = 48

/**
 * Text columns aligned with two spaces between them; the last column is
 * never cut nor padded, nor are the columns `whole` lists (ids a user copies
 * and pastes).
 */
export function formatTable (header: string[], rows: string[][], whole: number[] = []): string {
  const cells = rows.map(row => row.map((cell, i) => i < row.length - 1 && !whole.includes(i) ? clip(oneLine(cell)) : oneLine(cell)))
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map(row => row[i]?.length ?? 0)))
  const line = (row: string[]): string => row.map((cell, i) => i < row.length - 1 ? cell.padEnd(widths[i]!) : cell).join('  ')
  return [line(header), ...cells.map(line)].join('\n')
}

/** `key: value` lines with the values aligned. */
export function formatFields (fields: Array<[string, string | number | boolean | undefined]>): string {
  const shown = fields.filter((f): f is [string, string | number | boolean] => f[1] !== undefined)
  const width = Math.max(0, ...shown.map(([key]) => key.length + 1))
  return shown.map(([key, value]) => `${`${key}:`.padEnd(width)} ${oneLine(String(value))}`).join('\n')
}

function clip (text: string): string {
  return text.length > MAX_CELL ? `${text.slice(0, MAX_CELL - 1)}…` : text
}
