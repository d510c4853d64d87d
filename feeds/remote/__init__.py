"""Publishing to object storage: the output folder pushed to S3-compatible
buckets (AWS S3, Cloudflare R2, Google Cloud Storage, MinIO, Ceph) behind a
CDN, only what changed, in an order that never shows a reader a broken link.

`targets` names a bucket and prefix; `local` lists the output folder's
objects with their hashes; `manifest` is what a target holds, as this tool
wrote it; `plan` compares the two and orders the work; `pusher` carries it
out through `store`, the one module that speaks the S3 API.
"""
