// The demo measures process-wide state (open files, memfds) and loads both cores for seconds:
// runs must not overlap, or each would see the other's swap file and timings.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
