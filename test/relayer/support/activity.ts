/** The protocol activity driver lives with the scripts (the demo and the benchmarks use it too). */
export * from "../../../scripts/lib/activity";
