/**
 * The playground page: wires the controls to the library. All tfjs work on this thread goes
 * through one queue (`exclusive`), so a backend switch or a model swap never runs in the
 * middle of a generation; training runs in a Web Worker (./train-worker.ts) that posts the
 * events of `fit`.
 */
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'
import { activeBackend, simdKernelsActive, useBackend, wasmThreadCount, webgpuAdapter } from '../../../src/backend/index.js'
import { chars } from '../../../src/data/vocab.js'
import { lineChart } from '../../../src/viz/index.js'
import {
  attentionSvg,
  describe,
  distributionSvg,
  fetchCheckpoint,
  generate,
  generateRecordingKernels,
  loadFromBytes,
  readPickedFiles,
  unload,
  type KernelCounts,
  type Weights,
  type Loaded,
  type SampleSettings,
} from './model.js'
import type { CheckpointBytes } from '../../../src/io/minigpt-state-dict.js'
import type { CheckpointFiles, FromWorker, Preset, ToWorker, TrainSettings } from './protocol.js'

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id)
  if (el === null) throw new Error(`the page has no #${id}`)
  return el as T
}
const input = (id: string) => $<HTMLInputElement>(id)
const button = (id: string) => $<HTMLButtonElement>(id)

const wasmPaths = new URL('wasm/', document.baseURI).href

/**
 * `?threads=N` in the page's address: wasm's threads (1 to 8) for the page and its training
 * worker. Without it, the library's default: one per core where the page is cross-origin
 * isolated, else 1. A value the library refuses is its error message under the backend.
 */
const threadsParam = new URLSearchParams(location.search).get('threads')
const threads = threadsParam === null ? undefined : Number(threadsParam)
const backendOptions = { wasmPaths, ...(threads === undefined ? {} : { threads }) }

/** Shows a message in an error line (role=alert), or hides it. */
const showError = (id: string, message: string | undefined): void => {
  const el = $(id)
  el.textContent = message ?? ''
  el.hidden = message === undefined
}

// ---------------------------------------------------------------------------------------------
// one queue for the tfjs work of this thread

let pending = 0
let queue: Promise<unknown> = Promise.resolve()
const setBusy = (): void => {
  document.body.dataset.busy = String(pending > 0)
}
/** Runs a task after the ones queued before it; an unexpected failure is shown (and logged: the e2e test fails on it). */
const exclusive = (task: () => Promise<void>): Promise<void> => {
  pending++
  setBusy()
  const run = queue.then(task)
  const settle = (): void => {
    pending--
    setBusy()
    try {
      $('tensors').textContent = String(tf.memory().numTensors)
    } catch {
      $('tensors').textContent = '?'
    }
  }
  // The queue itself never rejects: a failed task must not stop the ones after it.
  queue = run.then(settle, (e: unknown) => {
    settle()
    showError('generate-error', `unexpected: ${e instanceof Error ? e.message : String(e)}`)
    console.error(e)
  })
  return queue as Promise<void>
}

// ---------------------------------------------------------------------------------------------
// backend

/** Starts a backend and says which one runs; resolves to the library's error message when it did not start. */
const startBackend = async (name: string): Promise<string | undefined> => {
  const r = await useBackend(name, backendOptions)()
  showError('backend-error', E.isLeft(r) ? r.left.message : undefined)
  $<HTMLSelectElement>('backend').value = activeBackend()
  $('backend-status').textContent = `running on ${activeBackend()}${await backendDetail()}`
  showThreadsNote()
  return E.isLeft(r) ? r.left.message : undefined
}

/** "1 thread", "2 threads". */
const threadsText = (n: number): string => `${n} thread${n === 1 ? '' : 's'}`

/** What the label adds to the backend's name: threads and the SIMD kernels on wasm, the adapter on webgpu. */
const backendDetail = async (): Promise<string> => {
  if (activeBackend() === 'wasm') {
    const threads = wasmThreadCount()
    document.body.dataset.wasmThreads = String(threads)
    return ` (${threadsText(threads)}${simdKernelsActive() ? ", with minigpt-fp's SIMD kernels" : ''})`
  }
  const adapter = await webgpuAdapter()
  return adapter === undefined ? '' : ` (adapter: ${[adapter.vendor, adapter.architecture].filter((x) => x !== '').join(' ') || 'unnamed'})`
}

/**
 * Says why wasm runs on one thread where the page is not cross-origin isolated: without the
 * COOP/COEP headers the browser gives the page no SharedArrayBuffer, which the threaded build needs.
 */
const showThreadsNote = (): void => {
  const note = $('threads-note')
  note.hidden = activeBackend() !== 'wasm' || globalThis.crossOriginIsolated === true
  note.textContent = note.hidden
    ? ''
    : `One thread of ${navigator.hardwareConcurrency} cores: the page is not cross-origin isolated. Serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp (docs/browser.md, “Threads”).`
}

/**
 * Whether this browser offers a WebGPU adapter. Asked before starting webgpu, so that a browser with
 * `navigator.gpu` but no adapter (Chromium without a GPU) simply stays on wasm.
 */
const hasWebGpuAdapter = async (): Promise<boolean> => {
  const gpu = (navigator as { gpu?: { requestAdapter: () => Promise<unknown> } }).gpu
  return gpu !== undefined && (await gpu.requestAdapter().catch(() => null)) !== null
}

// ---------------------------------------------------------------------------------------------
// the model

let model: Loaded | undefined
let names: string[] = []
let selected = 0
let generation = 0

const setModel = (source: CheckpointBytes, label: string): void => {
  const r = loadFromBytes(source, label, $<HTMLSelectElement>('weights').value as Weights)
  if (E.isLeft(r)) {
    showError('model-error', r.left)
    return
  }
  showError('model-error', undefined)
  if (model !== undefined) unload(model)
  model = r.right
  $('model-status').textContent = describe(model)
  input('top-k').max = String(model.ckpt.config.vocab_size)
  selected = 0
}

const settings = (): SampleSettings => ({
  prompt: input('prompt').value,
  seed: Math.max(0, Math.floor(Number(input('seed').value) || 0)),
  count: Math.min(24, Math.max(1, Math.floor(Number(input('count').value) || 1))),
  temperature: Number(input('temperature').value),
  topK: Number(input('top-k').value),
  topP: Number(input('top-p').value),
  repetitionPenalty: Number(input('repetition').value),
})

const showSliderValues = (): void => {
  const s = settings()
  const set = (id: string, text: string) => {
    const out = document.querySelector<HTMLOutputElement>(`output[for="${id}"]`)
    if (out !== null) out.value = text
  }
  set('temperature', s.temperature.toFixed(2))
  set('top-k', s.topK === 0 ? 'off' : String(s.topK))
  set('top-p', s.topP >= 1 ? 'off' : s.topP.toFixed(2))
  set('repetition', s.repetitionPenalty === 1 ? 'off' : s.repetitionPenalty.toFixed(2))
}

const renderNames = (): void => {
  const list = $('names')
  list.replaceChildren(
    ...names.map((n, i) => {
      const li = document.createElement('li')
      const b = document.createElement('button')
      b.type = 'button'
      b.textContent = n === '' ? '∅' : n
      b.setAttribute('aria-pressed', String(i === selected))
      b.addEventListener('click', () => {
        selected = i
        renderNames()
        void exclusive(renderPictures)
      })
      li.append(b)
      return li
    }),
  )
  list.dataset.generation = String(generation)
}

const renderDistribution = async (): Promise<void> => {
  if (model === undefined || names.length === 0) return
  const s = settings()
  const name = names[selected] ?? ''
  const pos = Number(input('position').value)
  const shown = chars(name).slice(0, pos).join('')
  const out = document.querySelector<HTMLOutputElement>('output[for="position"]')
  if (out !== null) out.value = `"${shown}"`
  const r = await distributionSvg(model, s, name, pos)
  $('distribution').innerHTML = E.isRight(r) ? r.right : ''
  if (E.isLeft(r)) showError('generate-error', r.left)
}

const renderPictures = async (): Promise<void> => {
  if (model === undefined || names.length === 0) return
  const name = names[selected] ?? ''
  $('attention').innerHTML = await attentionSvg(model, name)
  const pos = input('position')
  pos.min = String(Math.min(chars(settings().prompt).length, chars(name).length))
  pos.max = String(chars(name).length)
  pos.value = pos.min
  await renderDistribution()
}

/** Which weights ran, and which of minigpt-fp's kernels did the work (known on wasm and cpu, where the page records the kernels). */
const weightsReport = (m: Loaded, kernels: KernelCounts | undefined): string => {
  const list = (quantized: boolean) =>
    [...(kernels ?? [])]
      .filter(([n]) => n.startsWith('MinigptQuant') === quantized)
      .map(([n, count]) => `${n} ×${count}`)
      .join(', ')
  const parts = [m.weights === 'f32' ? "float32 weights (the checkpoint's)" : `${m.weights} weights (quantized as the checkpoint loaded)`]
  if (kernels === undefined) return `${parts[0]} on ${activeBackend()}`
  const quant = list(true)
  const simd = list(false)
  if (m.weights !== 'f32')
    parts.push(quant !== '' ? `quantized kernels ran: ${quant}` : `no quantized kernel ran (they need wasm): the same integer arithmetic ran in JavaScript on ${activeBackend()}`)
  if (simd !== '') parts.push(`SIMD kernels: ${simd}`)
  return parts.join(' · ')
}

const generateAndRender = async (): Promise<void> => {
  if (model === undefined) return
  const m = model
  const s = settings()
  const t0 = performance.now()
  // On wasm and cpu the page records which kernels ran (tf.profile: cheap there); webgl and webgpu time each kernel when profiled.
  const recorded = ['wasm', 'cpu'].includes(activeBackend()) ? await generateRecordingKernels(m, s) : { names: await generate(m, s), kernels: undefined }
  const r = recorded.names
  if (E.isLeft(r)) {
    showError('generate-error', r.left)
    return
  }
  showError('generate-error', undefined)
  names = r.right.map((n) => n.text)
  selected = Math.min(selected, names.length - 1)
  generation++
  renderNames()
  $('generate-status').textContent =
    `${names.length} names in ${Math.round(performance.now() - t0)} ms on ${activeBackend()} (seed ${s.seed}: the same settings give the same names)`
  $('weights-status').textContent = weightsReport(m, recorded.kernels)
  $('weights-status').dataset.weights = m.weights
  await renderPictures()
}

let regenerateQueued = false
/** Regenerates once for the latest settings, however many slider events arrive meanwhile. */
const regenerate = (): void => {
  showSliderValues()
  if (regenerateQueued) return
  regenerateQueued = true
  void exclusive(async () => {
    regenerateQueued = false
    await generateAndRender()
  })
}

const loadAndGenerate = (load: () => Promise<E.Either<string, CheckpointBytes>>, label: string): Promise<void> =>
  exclusive(async () => {
    const bytes = await load()
    if (E.isLeft(bytes)) {
      showError('model-error', bytes.left)
      return
    }
    setModel(bytes.right, label)
    await generateAndRender()
  })

// ---------------------------------------------------------------------------------------------
// training in a worker

let worker: Worker | undefined
let trained: { files: CheckpointFiles; label: string } | undefined
let lossPoints: [number, number][] = []
let valPoints: [number, number][] = []
let drawScheduled = false
let stepsDone = 0
/** The worker's backend and threads, and its latest tokens/s (the epoch's so far, as `fit` reports it). */
let trainingOn = ''
let tokensPerSecond = 0

const drawLoss = (): void => {
  drawScheduled = false
  const series = [{ name: 'train (batch)', points: lossPoints }]
  if (valPoints.length > 0) series.push({ name: 'validation', points: valPoints })
  $('loss').innerHTML = lineChart(series, { title: 'Training loss', xLabel: 'step', yLabel: 'cross-entropy (nats)', plotWidth: 820, plotHeight: 200, markers: false })
}
const scheduleDraw = (): void => {
  if (drawScheduled) return
  drawScheduled = true
  requestAnimationFrame(drawLoss)
}

/** The training speed as the page shows it: the epoch's tokens/s so far, and where it runs. */
const speed = (): string => `${Math.round(tokensPerSecond).toLocaleString('en-US')} tokens/s on ${trainingOn}`

const trainingEnded = (): void => {
  button('train').disabled = false
  button('stop').disabled = true
}

const onWorkerMessage = (m: FromWorker): void => {
  const status = $('train-status')
  switch (m.type) {
    case 'ready':
      trainingOn = m.backend === 'wasm' ? `wasm, ${threadsText(m.threads)}` : m.backend
      $('train-card').dataset.threads = String(m.threads)
      status.textContent = `Training ${m.params.toLocaleString('en-US')} parameters on ${m.train.toLocaleString('en-US')} names (${m.val} to validate) on ${trainingOn}: ${m.stepsPerEpoch} steps per epoch…`
      return
    case 'step':
      stepsDone++
      tokensPerSecond = m.tokensPerSecond
      lossPoints.push([m.epoch * m.stepsPerEpoch + m.step + 1, m.loss])
      $('train-card').dataset.steps = String(stepsDone)
      $('train-card').dataset.tokensPerSecond = String(Math.round(m.tokensPerSecond))
      status.textContent = `epoch ${m.epoch + 1}, step ${m.step + 1}/${m.stepsPerEpoch}: loss ${m.loss.toFixed(3)} · ${speed()}`
      scheduleDraw()
      return
    case 'epoch':
      if (m.valLoss !== undefined) valPoints.push([lossPoints[lossPoints.length - 1]?.[0] ?? 0, m.valLoss])
      trained = { files: m.checkpoint, label: `trained in the page (${m.epoch + 1} of ${m.epochs} epochs)` }
      button('use-trained').disabled = false
      $('samples').textContent =
        `After epoch ${m.epoch + 1} (train ${m.trainLoss.toFixed(3)}${m.valLoss !== undefined ? `, validation ${m.valLoss.toFixed(3)}` : ''} nats, ${m.seconds.toFixed(1)} s): ${m.samples.join(', ')}`
      scheduleDraw()
      return
    case 'done':
      trained = { files: m.checkpoint, label: `trained in the page (${m.steps} steps${m.stopped ? ', stopped' : ''})` }
      button('use-trained').disabled = false
      status.textContent = `${m.stopped ? 'Stopped' : 'Done'} after ${m.steps} steps${stepsDone > 0 ? ` (${speed()})` : ''}. “Use the model trained below” loads it above.`
      $('train-card').dataset.done = 'true'
      trainingEnded()
      return
    case 'error':
      showError('train-error', m.message)
      trainingEnded()
      return
  }
}

const startTraining = (): void => {
  showError('train-error', undefined)
  const settingsOut: TrainSettings = {
    preset: $<HTMLSelectElement>('preset').value as Preset,
    epochs: Math.max(1, Math.floor(Number(input('epochs').value) || 1)),
    batchSize: Math.max(1, Math.floor(Number(input('batch').value) || 64)),
    lr: Number(input('lr').value) || 1e-3,
    seed: settings().seed,
  }
  if (worker === undefined) {
    worker = new Worker(new URL('./train-worker.ts', import.meta.url), { type: 'module' })
    worker.onmessage = (e: MessageEvent<FromWorker>) => onWorkerMessage(e.data)
    worker.onerror = (e) => {
      showError('train-error', `the training worker failed: ${e.message}`)
      trainingEnded()
    }
  }
  lossPoints = []
  valPoints = []
  stepsDone = 0
  tokensPerSecond = 0
  delete $('train-card').dataset.done
  $('train-card').dataset.steps = '0'
  $('samples').textContent = ''
  $('train-status').textContent = 'Starting the worker…'
  button('train').disabled = true
  button('stop').disabled = false
  const message: ToWorker = { type: 'start', backend: activeBackend(), ...backendOptions, namesUrl: new URL('names.json', document.baseURI).href, settings: settingsOut }
  worker.postMessage(message)
}

// ---------------------------------------------------------------------------------------------
// wiring

$('tfjs-version').textContent = `${tf.version_core} · tensors in memory: `
$('tfjs-version').after(Object.assign(document.createElement('span'), { id: 'tensors', textContent: '0' }))
showSliderValues()

// Other weights: the same checkpoint, re-quantized (or float32 again), and the names regenerated.
// In the queue: a generation still running must not see its model's tensors disposed under it.
$<HTMLSelectElement>('weights').addEventListener('change', () => {
  void exclusive(async () => {
    if (model === undefined) return
    setModel(model.source, model.label)
    await generateAndRender()
  })
})
$<HTMLSelectElement>('backend').addEventListener('change', (e) => {
  const name = (e.target as HTMLSelectElement).value
  void exclusive(async () => {
    await startBackend(name)
    if (model !== undefined && tf.getBackend() === name) {
      // Tensors belong to the backend that made them: reload the checkpoint on the new one.
      setModel(model.source, model.label)
      await generateAndRender()
    }
  })
})
button('load-sample').addEventListener('click', () => {
  void loadAndGenerate(() => fetchCheckpoint(new URL('sample/', document.baseURI).href), 'bundled sample (spec/fixtures/minigpt-tiny, untrained)')
})
input('files').addEventListener('change', () => {
  const files = Array.from(input('files').files ?? [])
  if (files.length === 0) return
  void loadAndGenerate(() => readPickedFiles(files), `your files (${files.map((f) => f.name).join(', ')})`)
})
button('use-trained').addEventListener('click', () => {
  if (trained === undefined) return
  const t = trained
  void exclusive(async () => {
    setModel(t.files, t.label)
    await generateAndRender()
  })
})
for (const id of ['temperature', 'top-k', 'top-p', 'repetition', 'prompt', 'seed', 'count']) input(id).addEventListener('input', regenerate)
input('position').addEventListener('input', () => void exclusive(renderDistribution))
button('train').addEventListener('click', startTraining)
button('stop').addEventListener('click', () => worker?.postMessage({ type: 'stop' } satisfies ToWorker))

// wasm (else cpu) first, then webgpu where the browser has an adapter: a webgpu that fails to start
// leaves wasm running and its error on the page; the label says which backend runs.
void exclusive(async () => {
  await startBackend('wasm')
  if (activeBackend() !== 'wasm') await startBackend('cpu')
  if (await hasWebGpuAdapter()) await startBackend('webgpu')
})
