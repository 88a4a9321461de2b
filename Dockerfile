# A Hugging Face Space (Docker SDK): CPU torch, non-root user 1000, port 8501.
FROM python:3.11-slim

RUN useradd -m -u 1000 user
USER user
ENV HOME=/home/user PATH=/home/user/.local/bin:$PATH \
    PYTHONUNBUFFERED=1 RESNET_EXPLAIN_MAX_JOBS=1
WORKDIR /home/user/app

COPY --chown=user requirements.txt .
# The CPU builds of the pinned torch and torchvision first (the default wheels carry several GB of
# CUDA, and PyPI's torchvision registers CUDA-only ops a CPU torch lacks), then the README's
# install command, which finds both already satisfied.
RUN pip install --no-cache-dir --user --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 torchvision==0.28.0 \
 && pip install --no-cache-dir --user -r requirements.txt

COPY --chown=user . .

EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"
# The Space embeds the app in a cross-site iframe over HTTPS: its XSRF cookie must be SameSite=None
# (sent Secure), or uploads fail with 403. Plain-http hosts keep config.toml's "lax" (README: workshop).
CMD ["streamlit", "run", "app.py", "--server.port=8501", "--server.address=0.0.0.0", \
     "--server.xsrfCookieSameSite=none"]
