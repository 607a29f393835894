/**
 * The four CPU kernels of the static score, modelled on the SPEC CPU2006
 * subset the paper uses (sjeng, gcc, libquantum, xalan: chosen by PCA and
 * clustering to cover different behaviour). Each is deterministic, sized by
 * one number, and returns a checksum so the work cannot be optimised away and
 * a wrong result is noticed.
 *
 * - sjeng: game-tree search — branchy integer code, small working set.
 * - gcc: tokenizer + recursive-descent parser + constant folder over
 *   generated source — string scanning, many small objects, recursion.
 * - libquantum: gate operations on a quantum register held as a large typed
 *   array of basis states — streaming bit manipulation, memory bandwidth.
 * - xalan: build a document tree with strings, transform it, serialise it —
 *   allocation, string building, GC.
 */
import type { KernelName } from './constants.js'

export interface Kernel {
  /** Untimed set-up (input generation), done once per worker. */
  prepare (size: number): unknown
  /** The timed work; returns a checksum. */
  run (input: unknown): number
}

/** Work size of each kernel at scale 1: 13–21 ms per repetition on the reference machine, ~1 s for the whole run. */
export const KERNEL_SIZES: Readonly<Record<KernelName, number>> = {
  sjeng: 20,
  gcc: 24000,
  libquantum: 75,
  xalan: 16000
}

/** xorshift32: a tiny deterministic PRNG (inputs must not change between runs). */
export function prng (seed: number): () => number {
  let x = (seed | 0) === 0 ? 0x9e3779b9 : seed | 0
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return x >>> 0
  }
}

/** Fold a number into a 32-bit running hash (FNV-1a style). */
function mix (h: number, v: number): number {
  return Math.imul(h ^ (v | 0), 16777619) >>> 0
}

// ---------------------------------------------------------------- sjeng

const COLS = 7
const ROWS = 6
const CELLS = COLS * ROWS
const WIN = 1_000_000
/** Cell values: the two players are 1 and 8, so a window's sum tells both counts. */
const P1 = 1
const P2 = 8

/** Every window of four cells (cell = c * ROWS + r), four indices each. */
const LINES: Uint8Array = (() => {
  const out: number[] = []
  for (let c = 0; c < COLS; c++) {
    for (let r = 0; r < ROWS; r++) {
      for (const [dc, dr] of [[1, 0], [0, 1], [1, 1], [1, -1]]) {
        const ec = c + 3 * dc; const er = r + 3 * dr
        if (ec >= COLS || er < 0 || er >= ROWS) continue
        for (let k = 0; k < 4; k++) out.push((c + k * dc) * ROWS + r + k * dr)
      }
    }
  }
  return Uint8Array.from(out)
})()

/** For each cell, the windows through it (at most 16), as offsets into LINES. */
const CELL_LINES_MAX = 16
const CELL_LINES = new Uint16Array(CELLS * CELL_LINES_MAX)
const CELL_LINE_COUNT = new Uint8Array(CELLS)
for (let l = 0; l < LINES.length; l += 4) {
  for (let k = 0; k < 4; k++) {
    const cell = LINES[l + k]
    CELL_LINES[cell * CELL_LINES_MAX + CELL_LINE_COUNT[cell]++] = l
  }
}

const MOVE_ORDER = Uint8Array.from([3, 2, 4, 1, 5, 0, 6])
const MAX_DEPTH = 8

/** The search state, shared: the kernel allocates nothing while searching. */
const board = new Uint8Array(CELLS)
const heights = new Uint8Array(COLS)
let searchedNodes = 0

function connectsFour (cell: number, who: number): boolean {
  const base = cell * CELL_LINES_MAX
  const target = 4 * who
  for (let i = 0, n = CELL_LINE_COUNT[cell]; i < n; i++) {
    const l = CELL_LINES[base + i]
    if (board[LINES[l]] + board[LINES[l + 1]] + board[LINES[l + 2]] + board[LINES[l + 3]] === target) return true
  }
  return false
}

// Per-ply frames of the iterative search.
const frameMove = new Int8Array(MAX_DEPTH + 1) // next index into MOVE_ORDER
const frameCell = new Int8Array(MAX_DEPTH + 1) // cell played at this ply, -1 none
const frameBest = new Int32Array(MAX_DEPTH + 1)
const frameAlpha = new Int32Array(MAX_DEPTH + 1)
const frameBeta = new Int32Array(MAX_DEPTH + 1)
const frameWho = new Uint8Array(MAX_DEPTH + 1)

/**
 * Negamax with alpha-beta pruning, written as one loop over an explicit stack
 * (no recursion, no calls in the hot path) so the JIT compiles it the same way
 * every run: with recursion V8's inlining choices vary between processes and
 * the kernel's time with them.
 */
function search (depth: number, rootWho: number): number {
  let ply = 0
  frameMove[0] = 0; frameBest[0] = -2 * WIN; frameAlpha[0] = -2 * WIN; frameBeta[0] = 2 * WIN; frameWho[0] = rootWho
  searchedNodes++
  for (;;) {
    const m = frameMove[ply]
    let value = 0
    let haveValue = false
    if (m >= COLS || frameAlpha[ply] >= frameBeta[ply]) {
      // This ply is done: its value goes to the parent (negated), or it is the result.
      const result = frameBest[ply] === -2 * WIN ? 0 : frameBest[ply]
      if (ply === 0) return result
      ply--
      const cell = frameCell[ply]
      board[cell] = 0
      heights[(cell / ROWS) | 0]--
      value = -result
      haveValue = true
    } else {
      frameMove[ply] = m + 1
      const c = MOVE_ORDER[m]
      const r = heights[c]
      if (r >= ROWS) continue
      const cell = c * ROWS + r
      const who = frameWho[ply]
      board[cell] = who
      heights[c] = r + 1
      if (connectsFour(cell, who)) {
        value = WIN + depth - ply
        board[cell] = 0
        heights[c] = r
        haveValue = true
      } else if (ply + 1 === depth) {
        // Leaf: static evaluation from the mover's side — open windows weighted by the square of how full they are.
        searchedNodes++
        let score = 0
        for (let l = 0; l < LINES.length; l += 4) {
          const sum = board[LINES[l]] + board[LINES[l + 1]] + board[LINES[l + 2]] + board[LINES[l + 3]]
          const ones = sum & 7
          const eights = sum >> 3
          if (eights === 0) score += ones * ones
          else if (ones === 0) score -= eights * eights
        }
        value = who === P1 ? score : -score
        board[cell] = 0
        heights[c] = r
        haveValue = true
      } else {
        // Descend.
        searchedNodes++
        frameCell[ply] = cell
        const next = ply + 1
        frameMove[next] = 0; frameBest[next] = -2 * WIN
        frameAlpha[next] = -frameBeta[ply]; frameBeta[next] = -frameAlpha[ply]
        frameWho[next] = P1 + P2 - who
        ply = next
      }
    }
    if (haveValue) {
      if (value > frameBest[ply]) frameBest[ply] = value
      if (value > frameAlpha[ply]) frameAlpha[ply] = value
    }
  }
}

/** `size` connect-four positions, each a few random moves in, searched with alpha-beta to depth 6. */
const sjeng: Kernel = {
  prepare (size) {
    const rand = prng(0x5eed)
    const positions: Uint8Array[] = []
    while (positions.length < size) {
      board.fill(0); heights.fill(0)
      let who = P1; let over = false
      for (let m = 0; m < 8 && !over; m++) {
        const c = rand() % COLS
        const r = heights[c]
        if (r >= ROWS) continue
        board[c * ROWS + r] = who
        heights[c] = r + 1
        over = connectsFour(c * ROWS + r, who)
        who = P1 + P2 - who
      }
      if (!over) positions.push(board.slice())
    }
    return positions
  },
  run (input) {
    let h = 2166136261
    searchedNodes = 0
    for (const p of input as Uint8Array[]) {
      board.set(p)
      let stones = 0
      for (let c = 0; c < COLS; c++) {
        let r = 0
        while (r < ROWS && board[c * ROWS + r] !== 0) r++
        heights[c] = r
        stones += r
      }
      h = mix(h, search(6, stones % 2 === 0 ? P1 : P2))
    }
    return mix(h, searchedNodes)
  }
}

// ---------------------------------------------------------------- gcc

/** Generate C-like source: `size` statements in functions, with ifs, loops, calls and comments. */
function generateSource (size: number): string {
  const rand = prng(0xc0de)
  const ids = ['a', 'b', 'count', 'total', 'x1', 'y2', 'tmp', 'idx', 'node', 'len']
  const ops = ['+', '-', '*', '/', '%', '<', '>', '==', '&&', '||']
  const expr = (depth: number): string => {
    const k = rand() % 10
    if (depth > 3 || k < 3) return k < 2 ? String(rand() % 1000) : ids[rand() % ids.length]
    if (k === 3) return `(${expr(depth + 1)})`
    if (k === 4) return `f${rand() % 20}(${expr(depth + 1)}, ${expr(depth + 1)})`
    return `${expr(depth + 1)} ${ops[rand() % ops.length]} ${expr(depth + 1)}`
  }
  const lines: string[] = []
  let n = 0
  while (n < size) {
    lines.push(`int f${n % 20}_${n} (int a, int b) {`)
    const body = 5 + rand() % 15
    for (let i = 0; i < body; i++, n++) {
      const k = rand() % 6
      if (k === 0) lines.push(`  if (${expr(0)}) { ${ids[rand() % ids.length]} = ${expr(1)}; }`)
      else if (k === 1) lines.push(`  while (${expr(1)}) { ${ids[rand() % ids.length]} = ${expr(1)}; } // loop ${i}`)
      else if (k === 2) lines.push(`  return ${expr(0)};`)
      else lines.push(`  ${ids[rand() % ids.length]} = ${expr(0)};`)
    }
    lines.push('}')
  }
  return lines.join('\n')
}

// Token kinds. Operators carry their precedence in PRECEDENCE.
const T_NUM = 1; const T_ID = 2; const T_INT = 3; const T_IF = 4; const T_WHILE = 5; const T_RETURN = 6
const T_LPAREN = 7; const T_RPAREN = 8; const T_LBRACE = 9; const T_RBRACE = 10; const T_SEMI = 11; const T_COMMA = 12
const T_ASSIGN = 13
const T_OR = 20; const T_AND = 21; const T_EQ = 22; const T_LT = 23; const T_GT = 24
const T_ADD = 25; const T_SUB = 26; const T_MUL = 27; const T_DIV = 28; const T_MOD = 29
const PRECEDENCE = new Int8Array(32)
PRECEDENCE[T_OR] = 1; PRECEDENCE[T_AND] = 2; PRECEDENCE[T_EQ] = 3; PRECEDENCE[T_LT] = 4; PRECEDENCE[T_GT] = 4
PRECEDENCE[T_ADD] = 5; PRECEDENCE[T_SUB] = 5; PRECEDENCE[T_MUL] = 6; PRECEDENCE[T_DIV] = 6; PRECEDENCE[T_MOD] = 6

function hashWord (word: string): number {
  let h = 2166136261
  for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 16777619)
  return h >>> 0
}
const KEYWORD_HASHES = [['int', T_INT], ['if', T_IF], ['while', T_WHILE], ['return', T_RETURN]].map(([w, t]) => [hashWord(w as string), t as number])

const SYMBOLS = 1 << 12

/**
 * The compiler: a streaming lexer (the parser pulls one token at a time, as a
 * C compiler does) feeding a recursive-descent parser (precedence climbing)
 * that builds a typed-array AST per function, folds constants and emits stack
 * code, which is hashed. Its buffers are allocated once per worker.
 */
class Compiler {
  src = ''
  pos = 0 // in src
  tok = 0 // current token kind
  val = 0 // its number value or interned identifier id
  readonly symbols = new Int32Array(SYMBOLS * 2) // open addressing: (hash | 1), id
  nextSymbol = 0
  readonly nodeOp = new Int32Array(1 << 16) // AST of the current function
  readonly nodeA = new Int32Array(1 << 16)
  readonly nodeB = new Int32Array(1 << 16)
  nodes = 0
  hash = 2166136261
  emitted = 0

  compile (src: string): number {
    this.src = src; this.pos = 0; this.symbols.fill(0); this.nextSymbol = 0
    this.hash = 2166136261; this.emitted = 0
    this.advance()
    while (this.tok !== 0) {
      this.expect(T_INT); this.expect(T_ID); this.expect(T_LPAREN)
      while (!this.at(T_RPAREN)) this.advance()
      this.advance()
      this.expect(T_LBRACE)
      while (!this.at(T_RBRACE)) this.statement()
      this.advance()
      this.nodes = 0 // a function's AST is dropped once its code is emitted
    }
    return mix(mix(this.hash, this.emitted), this.nextSymbol)
  }

  /** Lexer: scan the next token from char codes; identifiers are hashed as scanned and interned. */
  advance (): void {
    const src = this.src
    const len = src.length
    let i = this.pos
    for (;;) {
      if (i >= len) { this.pos = i; this.tok = 0; return }
      const ch = src.charCodeAt(i)
      if (ch === 32 || ch === 10 || ch === 9) { i++; continue }
      if (ch === 47 && src.charCodeAt(i + 1) === 47) { // line comment
        while (i < len && src.charCodeAt(i) !== 10) i++
        continue
      }
      break
    }
    const ch = src.charCodeAt(i)
    if (ch >= 48 && ch <= 57) {
      let v = 0
      while (i < len) {
        const d = src.charCodeAt(i) - 48
        if (d < 0 || d > 9) break
        v = v * 10 + d; i++
      }
      this.pos = i; this.tok = T_NUM; this.val = v
      return
    }
    if ((ch >= 97 && ch <= 122) || (ch >= 65 && ch <= 90) || ch === 95) {
      let h = 2166136261
      while (i < len) {
        const c = src.charCodeAt(i)
        if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || (c >= 48 && c <= 57))) break
        h = Math.imul(h ^ c, 16777619); i++
      }
      h >>>= 0
      this.pos = i
      for (let w = 0; w < KEYWORD_HASHES.length; w++) {
        if (KEYWORD_HASHES[w][0] === h) { this.tok = KEYWORD_HASHES[w][1]; return }
      }
      const symbols = this.symbols
      let slot = h & (SYMBOLS - 1)
      while (symbols[slot * 2] !== 0 && symbols[slot * 2] !== (h | 1)) slot = (slot + 1) & (SYMBOLS - 1)
      if (symbols[slot * 2] === 0) { symbols[slot * 2] = h | 1; symbols[slot * 2 + 1] = ++this.nextSymbol }
      this.tok = T_ID; this.val = symbols[slot * 2 + 1]
      return
    }
    const next = src.charCodeAt(i + 1)
    let k: number
    switch (ch) {
      case 40: k = T_LPAREN; break
      case 41: k = T_RPAREN; break
      case 123: k = T_LBRACE; break
      case 125: k = T_RBRACE; break
      case 59: k = T_SEMI; break
      case 44: k = T_COMMA; break
      case 43: k = T_ADD; break
      case 45: k = T_SUB; break
      case 42: k = T_MUL; break
      case 47: k = T_DIV; break
      case 37: k = T_MOD; break
      case 60: k = T_LT; break
      case 62: k = T_GT; break
      case 61: if (next === 61) { k = T_EQ; i++ } else k = T_ASSIGN; break
      case 38: k = T_AND; i++; break
      case 124: k = T_OR; i++; break
      default: throw new Error(`gcc kernel: unexpected character ${ch} at ${i}`)
    }
    this.pos = i + 1; this.tok = k
  }

  /** (A method, so TypeScript does not narrow `tok` across advance().) */
  at (k: number): boolean { return this.tok === k }

  expect (k: number): void {
    if (this.tok !== k) throw new Error(`gcc kernel: expected token ${k}, got ${this.tok} at ${this.pos}`)
    this.advance()
  }

  node (op: number, a: number, b: number): number {
    const n = this.nodes++
    this.nodeOp[n] = op; this.nodeA[n] = a; this.nodeB[n] = b
    return n
  }

  statement (): void {
    const k = this.tok
    const target = this.val
    this.advance()
    if (k === T_IF || k === T_WHILE) {
      this.expect(T_LPAREN); this.emit(this.expr(0)); this.expect(T_RPAREN)
      this.emitOp(k === T_IF ? -1 : -2)
      this.expect(T_LBRACE); this.statement(); this.expect(T_RBRACE)
      this.emitOp(-3)
    } else if (k === T_RETURN) {
      this.emit(this.expr(0)); this.expect(T_SEMI)
      this.emitOp(-4)
    } else {
      this.expect(T_ASSIGN); this.emit(this.expr(0)); this.expect(T_SEMI)
      this.emitOp(-5); this.emitOp(target)
    }
  }

  expr (minPrec: number): number {
    let left = this.primary()
    for (;;) {
      const op = this.tok
      const prec = op < 32 ? PRECEDENCE[op] : 0
      if (prec === 0 || prec <= minPrec) return left
      this.advance()
      left = this.fold(op, left, this.expr(prec))
    }
  }

  primary (): number {
    const k = this.tok
    const v = this.val
    this.advance()
    if (k === T_NUM) return this.node(0, v, 0)
    if (k === T_LPAREN) { const e = this.expr(0); this.expect(T_RPAREN); return e }
    if (this.at(T_LPAREN)) { // call: arguments chained through nodeB of op 3 nodes
      this.advance()
      let args = -1
      while (!this.at(T_RPAREN)) {
        args = this.node(3, this.expr(0), args)
        if (this.at(T_COMMA)) this.advance()
      }
      this.advance()
      return this.node(2, v, args)
    }
    return this.node(1, v, 0)
  }

  fold (op: number, l: number, r: number): number {
    const { nodeOp, nodeA } = this
    if (nodeOp[l] !== 0 || nodeOp[r] !== 0) return this.node(op, l, r)
    const a = nodeA[l]; const b = nodeA[r]
    let v: number
    switch (op) {
      case T_ADD: v = (a + b) | 0; break
      case T_SUB: v = (a - b) | 0; break
      case T_MUL: v = Math.imul(a, b); break
      case T_DIV: v = b === 0 ? 0 : (a / b) | 0; break
      case T_MOD: v = b === 0 ? 0 : a % b; break
      case T_LT: v = a < b ? 1 : 0; break
      case T_GT: v = a > b ? 1 : 0; break
      case T_EQ: v = a === b ? 1 : 0; break
      case T_AND: v = a !== 0 && b !== 0 ? 1 : 0; break
      default: v = a !== 0 || b !== 0 ? 1 : 0
    }
    return this.node(0, v, 0)
  }

  /** Emitted code is hashed as it is produced (a real compiler would write it out). */
  emitOp (op: number): void {
    this.hash = mix(this.hash, op)
    this.emitted++
  }

  /** Code generation: post-order walk to stack code. */
  emit (n: number): void {
    const { nodeOp, nodeA, nodeB } = this
    const op = nodeOp[n]
    if (op === 0) {
      this.emitOp(-6); this.emitOp(nodeA[n])
    } else if (op === 1) {
      this.emitOp(-7); this.emitOp(nodeA[n])
    } else if (op === 2) {
      let argc = 0
      for (let a = nodeB[n]; a !== -1; a = nodeB[a]) { this.emit(nodeA[a]); argc++ }
      this.emitOp(-8); this.emitOp(nodeA[n]); this.emitOp(argc)
    } else {
      this.emit(nodeA[n]); this.emit(nodeB[n]); this.emitOp(op)
    }
  }
}

const gcc: Kernel = {
  prepare (size) { return { src: generateSource(size), compiler: new Compiler() } },
  run (input) {
    const { src, compiler } = input as { src: string, compiler: Compiler }
    return compiler.compile(src)
  }
}

// ---------------------------------------------------------------- libquantum

const QUBITS = 20
/** 2^16 basis states: 256 KiB of states + 256 KiB of amplitudes, inside L2, so
 * the score measures the core rather than a memory bus shared with neighbours. */
const REGISTER = 1 << 16

interface Register { initial: Uint32Array, states: Uint32Array, amp: Float32Array, gates: Uint8Array, rounds: number }

/**
 * A register of REGISTER basis states (bit strings) with real amplitudes, as
 * libquantum stores it; `size` rounds of controlled-NOT, Toffoli and
 * phase gates sweep over it, then a "measurement" counts bits.
 */
const libquantum: Kernel = {
  prepare (size) {
    const rand = prng(0x9b17)
    const initial = new Uint32Array(REGISTER)
    for (let i = 0; i < REGISTER; i++) initial[i] = rand() & ((1 << QUBITS) - 1)
    const gates = new Uint8Array(4096)
    for (let i = 0; i < gates.length; i++) gates[i] = rand() % QUBITS
    return { initial, states: new Uint32Array(REGISTER), amp: new Float32Array(REGISTER), gates, rounds: size } satisfies Register
  },
  run (input) {
    const { initial, states, amp, gates, rounds } = input as Register
    states.set(initial)
    amp.fill(1 / 256)
    let g = 0
    for (let round = 0; round < rounds; round++) {
      const c1 = 1 << gates[g++ & 4095]
      const c2 = 1 << gates[g++ & 4095]
      const t = 1 << gates[g++ & 4095]
      const kind = round % 3
      if (kind === 0) { // CNOT
        for (let i = 0; i < REGISTER; i++) if ((states[i] & c1) !== 0) states[i] ^= t
      } else if (kind === 1) { // Toffoli
        const cm = c1 | c2
        for (let i = 0; i < REGISTER; i++) if ((states[i] & cm) === cm) states[i] ^= t
      } else { // conditional phase flip, by parity of the masked bits
        const m = c1 | c2 | t
        for (let i = 0; i < REGISTER; i++) {
          let v = states[i] & m
          v ^= v >>> 16; v ^= v >>> 8; v ^= v >>> 4; v ^= v >>> 2; v ^= v >>> 1
          if ((v & 1) !== 0) amp[i] = -amp[i]
        }
      }
    }
    let h = 2166136261
    let ones = 0
    let negative = 0
    for (let i = 0; i < REGISTER; i++) {
      let v = states[i]
      v = v - ((v >>> 1) & 0x55555555)
      v = (v & 0x33333333) + ((v >>> 2) & 0x33333333)
      ones += Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24
      if (amp[i] < 0) negative++
      if ((i & 255) === 0) h = mix(h, states[i])
    }
    return mix(mix(h, ones), negative)
  }
}

// ---------------------------------------------------------------- xalan

/** One shape for every node, as an XSLT processor's DOM would have. */
class XNode {
  constructor (
    readonly tag: string,
    readonly attrs: string[], // name, value, name, value…
    readonly children: XNode[],
    readonly text: string // text content of a text node ('#text'), else ''
  ) {}
}

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'kappa', 'node', 'peer', 'probe', 'metric', 'load', 'tree', 'leaf', '<&>', 'x"y']

const XALAN_DOCUMENT_ITEMS = 500

function textNode (s: string): XNode { return new XNode('#text', [], [], s) }

function attr (e: XNode, name: string): string {
  for (let i = 0; i < e.attrs.length; i += 2) if (e.attrs[i] === name) return e.attrs[i + 1]
  return ''
}

/** Build the source document: `size` items in sections of ten. */
function buildDocument (size: number, rand: () => number): XNode {
  const root = new XNode('catalog', ['version', '1'], [], '')
  for (let s = 0; s < size / 10; s++) {
    const section = new XNode('section', ['id', `s${s}`, 'title', WORDS[rand() % WORDS.length]], [], '')
    for (let i = 0; i < 10; i++) {
      let words = WORDS[rand() % WORDS.length]
      const nw = 2 + rand() % 8
      for (let w = 0; w < nw; w++) words += ' ' + WORDS[rand() % WORDS.length]
      section.children.push(new XNode('item', ['id', `i${s}_${i}`, 'price', String(rand() % 10000), 'lang', rand() % 2 === 0 ? 'en' : 'fr'],
        [textNode(words), new XNode('note', [], [textNode(`note ${rand() % 100}`)], '')], ''))
    }
    root.children.push(section)
  }
  return root
}

/** The "stylesheet": sections → <div> with items sorted by price, English items → <li> with upper-cased text. */
function transform (e: XNode): XNode {
  if (e.tag === 'item') {
    let text = ''
    for (const c of e.children) if (c.tag === '#text') text += c.text
    return new XNode('li', ['class', `item-${attr(e, 'lang')}`, 'data-price', attr(e, 'price')],
      [textNode(text.toUpperCase()), textNode(` [${attr(e, 'id')}]`)], '')
  }
  const kids: XNode[] = []
  for (const c of e.children) if (c.tag !== '#text' && (c.tag !== 'item' || attr(c, 'lang') === 'en')) kids.push(transform(c))
  if (e.tag === 'section') {
    kids.sort((a, b) => Number(attr(a, 'data-price')) - Number(attr(b, 'data-price')))
    kids.unshift(new XNode('h2', [], [textNode(attr(e, 'title'))], ''))
    return new XNode('div', ['id', attr(e, 'id'), 'title', attr(e, 'title')], kids, '')
  }
  return new XNode(e.tag === 'catalog' ? 'html' : e.tag, e.attrs, kids, '')
}

function escapeText (s: string): string {
  let out = ''
  let from = 0
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i)
    const rep = ch === 60 ? '&lt;' : ch === 62 ? '&gt;' : ch === 38 ? '&amp;' : ch === 34 ? '&quot;' : ''
    if (rep !== '') { out += s.slice(from, i) + rep; from = i + 1 }
  }
  return from === 0 ? s : out + s.slice(from)
}

function serialise (e: XNode, out: string[]): void {
  if (e.tag === '#text') { out.push(escapeText(e.text)); return }
  let open = '<' + e.tag
  for (let i = 0; i < e.attrs.length; i += 2) open += ' ' + e.attrs[i] + '="' + escapeText(e.attrs[i + 1]) + '"'
  out.push(open + '>')
  for (const c of e.children) serialise(c, out)
  out.push('</' + e.tag + '>')
}

const xalan: Kernel = {
  prepare (size) { return size },
  run (input) {
    // Many small documents rather than one big one: each dies young, so the
    // time is the transform's, not a major GC's that lands in some runs only.
    const rand = prng(0xa1a)
    let h = 2166136261
    for (let left = input as number; left > 0; left -= XALAN_DOCUMENT_ITEMS) {
      const out: string[] = []
      serialise(transform(buildDocument(Math.min(left, XALAN_DOCUMENT_ITEMS), rand)), out)
      const html = out.join('')
      h = mix(h, html.length)
      for (let i = 0; i < html.length; i += 31) h = mix(h, html.charCodeAt(i))
    }
    return h
  }
}

export const KERNELS: Readonly<Record<KernelName, Kernel>> = { sjeng, gcc, libquantum, xalan }
