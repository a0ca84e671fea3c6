"""The Open Inference Protocol (KServe / Triton "V2" REST): tensors on the wire
(``tensors``), what each kind of model takes and gives as tensors (``models``), and the
answers the routes and the data plane give (``service``)."""
