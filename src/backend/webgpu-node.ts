/**
 * Node-only: WebGPU through the optional `webgpu` package (Dawn's Node bindings, the native
 * binary ships inside the package). Node has no `navigator.gpu`, so tfjs-backend-webgpu does not
 * register itself there; this module asks Dawn for an adapter and a device and registers a tfjs
 * factory that builds the webgpu backend on that device.
 *
 * Nothing here runs unless `webgpu` is asked for: the package is imported on demand, and a missing
 * package, a machine where Dawn finds no adapter, or a device that cannot be made is an error
 * message that says which and how to fix it — never another backend in its place.
 */
import * as tf from '@tensorflow/tfjs-core'
import * as E from 'fp-ts/lib/Either.js'

/** Options of the webgpu backend in Node (ignored in a browser, which has its own WebGPU). */
export interface WebGpuNodeOptions {
  /**
   * Dawn's options, passed to the package's `create`: `backend=vulkan`, `backend=opengles`,
   * `adapter=NAME`, `enable-dawn-features=…`. Default: none (Dawn picks the platform's API).
   */
  readonly dawnFlags?: readonly string[]
  /**
   * `core` (default): a full WebGPU adapter. `compatibility`: also accept a compatibility-mode
   * adapter, which Dawn offers on OpenGL ES — with `dawnFlags: ['backend=opengles']` that is how
   * Mesa's software renderer (llvmpipe) serves WebGPU on a machine whose Vulkan driver Dawn rejects.
   */
  readonly featureLevel?: 'core' | 'compatibility'
}

/** What Dawn says about the adapter the webgpu backend runs on. */
export interface WebGpuAdapterInfo {
  readonly vendor: string
  readonly architecture: string
  readonly device: string
  readonly description: string
  /** The adapter's feature level: `core` or `compatibility`. */
  readonly featureLevel: string
  /** True for a CPU implementation (Mesa's lavapipe or llvmpipe, SwiftShader): its speed says nothing of a GPU's. */
  readonly software: boolean
}

/** The little of Dawn's objects used here (the full types are `@webgpu/types`, not a dependency of this library). */
interface DawnAdapter {
  readonly info: { readonly vendor: string; readonly architecture: string; readonly device: string; readonly description: string; readonly featureLevel?: string }
  readonly features: { has: (name: string) => boolean }
  readonly limits: Readonly<Record<string, number>>
  readonly requestDevice: (descriptor: object) => Promise<DawnDevice>
}
interface DawnDevice {
  readonly lost: Promise<{ readonly message: string }>
}
interface DawnGpu {
  readonly requestAdapter: (options: object) => Promise<DawnAdapter | null>
}
interface DawnPackage {
  readonly create: (flags: string[]) => DawnGpu
  readonly globals: Readonly<Record<string, unknown>>
}

const HOW_TO_INSTALL = 'install it with `npm install webgpu` (an optional dependency of minigpt-fp: Dawn for Node, with its binary inside the package)'

const HOW_TO_GET_AN_ADAPTER = [
  "Dawn needs a GPU driver it can use: on Linux the Vulkan loader (Debian/Ubuntu: `apt-get install libvulkan1`) and the GPU's Vulkan driver (NVIDIA's driver, or Mesa's `mesa-vulkan-drivers` for AMD and Intel).",
  "Without a GPU, Mesa 23 or newer's lavapipe (`mesa-vulkan-drivers`) is a software Vulkan device Dawn accepts; with an older Mesa, ask for Dawn's OpenGL ES compatibility adapter:",
  "{ webgpu: { dawnFlags: ['backend=opengles'], featureLevel: 'compatibility' } } with EGL_PLATFORM=surfaceless (Mesa's llvmpipe). Dawn's own warnings above say why it rejected the devices it saw.",
].join(' ')

let started: { readonly key: string; readonly info: WebGpuAdapterInfo } | undefined

/** The adapter the Node webgpu backend runs on, once it has started; undefined before (or in a browser). */
export const nodeWebGpuAdapter = (): WebGpuAdapterInfo | undefined => started?.info

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|software/i

const describe = (adapter: DawnAdapter): WebGpuAdapterInfo => {
  const { vendor, architecture, device, description, featureLevel } = adapter.info
  const software = SOFTWARE.test([vendor, architecture, device, description].join(' '))
  return { vendor, architecture, device, description, featureLevel: featureLevel ?? 'core', software }
}

/**
 * Dawn's WebGPU as tfjs's `webgpu` backend in Node: imports the `webgpu` package, installs the
 * WebGPU globals tfjs-backend-webgpu reads (`GPUBufferUsage`, …, and `navigator.gpu`), requests an
 * adapter and a device, and registers the backend's factory on that device. Starting it again
 * with the same options changes nothing; with other options, once it has started, is an error
 * (tfjs keeps one webgpu backend per process).
 */
export const registerNodeWebGpu = async (options: WebGpuNodeOptions = {}): Promise<E.Either<string, WebGpuAdapterInfo>> => {
  const flags = [...(options.dawnFlags ?? [])]
  const featureLevel = options.featureLevel ?? 'core'
  const key = JSON.stringify({ flags, featureLevel })
  if (started !== undefined) {
    return started.key === key ? E.right(started.info) : E.left(`webgpu has already started with other options (${started.key}); tfjs keeps one webgpu backend per process`)
  }
  let dawn: DawnPackage
  try {
    // A computed specifier: bundlers and the type checker leave the optional package alone.
    const name = 'webgpu'
    dawn = (await import(name)) as DawnPackage
  } catch (e) {
    return E.left(`the webgpu package could not be loaded (${(e as Error).message.split('\n')[0]}): ${HOW_TO_INSTALL}`)
  }
  // Mesa's EGL needs a platform when there is no display; surfaceless is the one that needs nothing.
  if (flags.includes('backend=opengles') || flags.includes('backend=opengl')) process.env.EGL_PLATFORM ??= 'surfaceless'
  const gpu = dawn.create(flags)
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance', featureLevel })
  if (adapter === null)
    return E.left(`Dawn found no WebGPU adapter (flags: ${flags.length === 0 ? 'none' : flags.join(' ')}; feature level ${featureLevel}). ${HOW_TO_GET_AN_ADAPTER}`)
  let device: DawnDevice
  try {
    device = await adapter.requestDevice(deviceDescriptor(adapter))
  } catch (e) {
    return E.left(`the WebGPU adapter '${adapter.info.device || adapter.info.description}' would not make a device: ${(e as Error).message}`)
  }
  for (const [name, value] of Object.entries(dawn.globals)) if (!(name in globalThis)) Object.defineProperty(globalThis, name, { value, configurable: true, writable: true })
  installNavigatorGpu(gpu)
  const webgpu = await import('@tensorflow/tfjs-backend-webgpu')
  const info = describe(adapter)
  // The package's own factory, if it registered one, would ask navigator.gpu for a second adapter.
  if (tf.findBackendFactory('webgpu') !== null) tf.removeBackend('webgpu')
  tf.registerBackend('webgpu', () => new webgpu.WebGPUBackend(device as never, adapter.info as never), 3)
  started = { key, info }
  return E.right(info)
}

/** The device tfjs-backend-webgpu itself would request: the adapter's limits, timestamps where offered. */
const deviceDescriptor = (adapter: DawnAdapter): object => {
  const limit = (name: string) => adapter.limits[name]
  return {
    requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
    requiredLimits: Object.fromEntries(
      [
        'maxComputeWorkgroupStorageSize',
        'maxComputeWorkgroupsPerDimension',
        'maxStorageBufferBindingSize',
        'maxBufferSize',
        'maxComputeWorkgroupSizeX',
        'maxComputeInvocationsPerWorkgroup',
      ].map((name) => [name, limit(name)]),
    ),
  }
}

/** tfjs-backend-webgpu's constructor checks `navigator.gpu`; Node 20 has no navigator, Node 21+ one without gpu. */
const installNavigatorGpu = (gpu: DawnGpu): void => {
  const g = globalThis as { navigator?: object }
  if (g.navigator === undefined) Object.defineProperty(globalThis, 'navigator', { value: {}, configurable: true, writable: true })
  if (!('gpu' in g.navigator!)) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true })
}
