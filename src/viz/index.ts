/**
 * Pictures as SVG strings: heatmaps (attention weights, masks), line charts (loss curves,
 * latency), histograms (name lengths) and bar charts of next-token distributions.
 *
 * Pure functions of plain numbers: no DOM, no Node APIs, no tfjs, deterministic output. Take
 * the numbers out of a tensor first (`await t.array()`), then write the string to a file or
 * put it in a page.
 */
export * from './svg.js'
export * from './axes.js'
export * from './heatmap.js'
export * from './line.js'
export * from './histogram.js'
export * from './bars.js'
