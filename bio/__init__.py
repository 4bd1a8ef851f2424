"""The Brian2 cerebellar circuit (mossy fibers, granule cells, Golgi, Purkinje, climbing fibers)."""
