/**
 * @packageDocumentation
 *
 * A discrete-event simulator for Kappa overlays (SPEC §9). It drives the same
 * Algorithm I–III state machines as the node (src/balance) over synthetic
 * overlays with synthetic load, churn and jobs, and measures placement
 * quality, probe hops and message cost against baselines.
 */

import { Simulator } from './simulator.js'
import type { SimConfig, SimStats } from './simulator.js'

export { Simulator, defaultSimConfig, OUTCOMES } from './simulator.js'
export type { SimConfig, SimStats, Policy, Outcome, JobRecord } from './simulator.js'
export { buildTopology, describeTopology, degree } from './topology.js'
export type { Graph, TopologySpec } from './topology.js'
export { sysmetricOf } from './load.js'
export { Rng } from './rng.js'

export function createSimulator (config: SimConfig): Simulator {
  return new Simulator(config)
}

/** build, run the configured experiment, summarise */
export function runSimulation (config: SimConfig, onProgress?: (fraction: number) => void): SimStats {
  return new Simulator(config).run(onProgress)
}

export { chainScenario, scriptedSimConfig } from './scenarios.js'
export type { ChainScenarioResult } from './scenarios.js'
