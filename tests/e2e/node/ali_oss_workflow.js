// ali-oss (Node) through the gateway: one workflow, results as JSON on stdout for the Python test to check.
// Usage: node ali_oss_workflow.js '{"endpoint":..., "ak":..., "sk":..., "bucket":..., "region":..., "v4":bool,
//         "prefix":...}'. Every write is read back by the test from the backend itself.
const crypto = require('crypto');
const OSS = require('ali-oss');

const sha = (b) => crypto.createHash('sha256').update(b).digest('hex');

async function main() {
  const a = JSON.parse(process.argv[2]);
  const c = new OSS({
    accessKeyId: a.ak, accessKeySecret: a.sk, bucket: a.bucket, endpoint: a.endpoint, region: a.region,
    // An address-literal endpoint: ali-oss then names the bucket in the Host header as
    // `<bucket>.oss-<region>.aliyuncs.com` and sends the key alone as the path, as to an OSS endpoint's address.
    secure: false, authorizationV4: a.v4, timeout: 60000,
  });
  const out = {};
  const key = `${a.prefix}/dir/ü k+1.bin`;
  const data = crypto.randomBytes(300 * 1024);
  const put = await c.put(key, data, { headers: { 'x-oss-meta-colour': 'blue' } });
  out.put_status = put.res.status;
  out.put_etag = put.res.headers.etag;
  out.data_sha = sha(data);
  out.get_sha = sha((await c.get(key)).content);
  out.range = (await c.get(key, { headers: { Range: 'bytes=10-19' } })).content.toString('hex');
  out.range_want = data.subarray(10, 20).toString('hex');
  const head = await c.head(key);
  out.head_length = Number(head.res.headers['content-length']);
  out.head_colour = head.meta.colour;
  const listed = await c.listV2({ prefix: `${a.prefix}/`, 'max-keys': 100 });
  out.listed = listed.objects.map((o) => [o.name, o.size]);

  // Multipart: one uploaded part, one copied part with a range and a condition; ali-oss reads the copied
  // part's ETag from the answer's header.
  const src = crypto.randomBytes(600 * 1024);
  const srcKey = `${a.prefix}/src.bin`;
  const srcEtag = (await c.put(srcKey, src)).res.headers.etag;
  const mpKey = `${a.prefix}/joined.bin`;
  const { uploadId } = await c.initMultipartUpload(mpKey);
  const p1 = await c.uploadPart(mpKey, uploadId, 1, src, 0, 400 * 1024);
  const p2 = await c.uploadPartCopy(mpKey, uploadId, 2, `${400 * 1024}-${600 * 1024 - 1}`,
    { sourceKey: srcKey, sourceBucketName: a.bucket }, { headers: { 'x-oss-copy-source-if-match': srcEtag } });
  out.copy_part_etag = p2.etag;
  const done = await c.completeMultipartUpload(mpKey, uploadId,
    [{ number: 1, etag: p1.etag }, { number: 2, etag: p2.etag }]);
  out.complete_status = done.res.status;
  out.src_sha = sha(src);
  out.joined_sha = sha((await c.get(mpKey)).content);
  out.joined_key = mpKey;

  // A condition that fails: 412 in OSS's shape.
  const u2 = (await c.initMultipartUpload(`${mpKey}.2`)).uploadId;
  try {
    await c.uploadPartCopy(`${mpKey}.2`, u2, 1, '0-1023', { sourceKey: srcKey, sourceBucketName: a.bucket },
      { headers: { 'x-oss-copy-source-if-none-match': srcEtag } });
    out.precondition = 'stored';
  } catch (e) {
    out.precondition = [e.status, e.code];
  }
  await c.abortMultipartUpload(`${mpKey}.2`, u2);

  const copied = await c.copy(`${a.prefix}/copy.bin`, srcKey);
  out.copy_status = copied.res.status;
  out.copy_sha = sha((await c.get(`${a.prefix}/copy.bin`)).content);

  // Presigned GET, V1 or V4 as the client signs. ali-oss presigns only for a named endpoint, so the URL names
  // OSS's own host; the test sends it to the gateway with that Host, as a resolver pointing there would.
  const signer = new OSS({
    accessKeyId: a.ak, accessKeySecret: a.sk, bucket: a.bucket, region: a.region, secure: false,
    authorizationV4: a.v4, endpoint: `http://${a.region}.aliyuncs.com`,
  });
  out.presigned_url = a.v4
    ? await signer.signatureUrlV4('GET', 300, undefined, srcKey)
    : signer.signatureUrl(srcKey, { expires: 300 });

  await c.delete(key);
  try {
    await c.get(key);
    out.after_delete = 'found';
  } catch (e) {
    out.after_delete = [e.status, e.code, Boolean(e.requestId)];
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  process.stderr.write(`${e.name}: ${e.message} status=${e.status} code=${e.code}\n${e.stack}\n`);
  process.exit(1);
});
