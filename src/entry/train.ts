/**
 * What the package's main entry exports as `train`: src/train and the seed's names recipe
 * (trainNames, seedOptimizer, evaluateNames), which lives with Mini-GPT in src/models/minigpt.
 */
export * from '../train/index.js'
export * from '../models/minigpt/recipe.js'
