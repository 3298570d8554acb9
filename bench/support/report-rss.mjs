// Preloaded into a benchmarked process: prints its peak resident set size and CPU time when it
// exits (CPU time is steadier than wall time on a shared machine).
process.on("exit", () => {
  const usage = process.resourceUsage()
  process.stderr.write(`\nBENCH_MAX_RSS_KB=${usage.maxRSS}\nBENCH_CPU_US=${usage.userCPUTime + usage.systemCPUTime}\n`)
})
