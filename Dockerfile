# Mimir as a Hugging Face Docker Space (README front matter: sdk: docker, app_port: 7860).
# Built with the same scripts/setup.sh the README uses, with MIMIR_NATIVE=OFF so the llama.cpp build
# runs on whatever CPU the Space gets. Runs as uid 1000 (as Spaces require) on 0.0.0.0:7860.
# Models: put fine-tuned.gguf, adapter.gguf and base.gguf in the Space's persistent storage (/data), or
# set MIMIR_FINE_TUNED / MIMIR_ADAPTER / MIMIR_BASE (Space variables); without them the demo models
# (tiny, trained from data/mimir_fine_tuning.csv at image build time) serve. Set MIMIR_API_KEY as a Space secret to allow
# POST /api/models/reload.
FROM debian:bookworm

ENV DEBIAN_FRONTEND=noninteractive \
    MIMIR_NATIVE=OFF \
    MIMIR_CACHE=/opt/mimir-cache \
    HOME=/home/user

RUN useradd --create-home --uid 1000 user
WORKDIR /home/user/app
COPY --chown=1000:1000 . .

# setup.sh installs the Debian packages it needs (we are root here), fetches and builds the pinned
# llama.cpp into MIMIR_CACHE, installs the page's npm libraries and builds Mimir. Tests and benchmarks
# are not needed in the image.
RUN scripts/setup.sh --build-dir build -DMIMIR_BUILD_TESTS=OFF -DMIMIR_BUILD_BENCH=OFF \
    && rm -rf /var/lib/apt/lists/* \
    && chown -R 1000:1000 /home/user "$MIMIR_CACHE"

USER 1000
# The demo models are built into the image (mimir demo, minutes on 2 cores), so the Space starts serving the
# fine-tuned demo at once: `mimir serve --demo` finds them in its cache.
RUN build/src/cli/mimir demo --data data/mimir_fine_tuning.csv

ENV MIMIR_SKIP_SETUP=1
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/7860 && printf 'GET /api/status HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q '200 OK' <&3"]
CMD ["scripts/demo.sh", "--host", "0.0.0.0", "--port", "7860", "--trust-proxy"]
