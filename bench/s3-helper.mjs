// Helpers of bench/s3.sh, on the SDK the service itself uses (credentials from the environment:
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY; S3_ENDPOINT, S3_REGION, S3_BUCKET as the service's).
//
//   node bench/s3-helper.mjs presign KEY [SECONDS]   # a presigned GET URL of object KEY (whole key)
//   node bench/s3-helper.mjs rss PID [INTERVAL_MS]   # samples VmRSS of PID every INTERVAL_MS (100)
//                                                    # until SIGTERM, then prints
//                                                    # `first_kib=N peak_kib=N last_kib=N samples=N`
//   node bench/s3-helper.mjs proxy PORT URL          # plain node:http: any GET on PORT answers with
//                                                    # a GET of URL piped through (keep-alive agent,
//                                                    # as the service's S3 client): Node's ceiling;
//                                                    # RANGE=1: asks for the whole object as a
//                                                    # range, as the service's reads do
import { readFileSync } from 'node:fs';

const [command, ...args] = process.argv.slice(2);

if (command === 'presign') {
  const [key, seconds = '3600'] = args;
  const { S3Client, GetObjectCommand } = await import('@aws-sdk/client-s3');
  const { getSignedUrl } = await import('@aws-sdk/s3-request-presigner');
  const client = new S3Client({
    region: process.env.S3_REGION ?? 'us-east-1',
    endpoint: process.env.S3_ENDPOINT,
    forcePathStyle: process.env.S3_FORCE_PATH_STYLE !== 'false',
  });
  const command = new GetObjectCommand({ Bucket: process.env.S3_BUCKET, Key: key });
  console.log(await getSignedUrl(client, command, { expiresIn: Number(seconds) }));
} else if (command === 'rss') {
  const [pid, intervalMs = '100'] = args;
  const rssKib = () => {
    try {
      return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);
    } catch {
      return NaN; // the process is gone
    }
  };
  const first = rssKib();
  let peak = first;
  let last = first;
  let samples = 1;
  const timer = setInterval(() => {
    last = rssKib();
    samples++;
    if (last > peak) peak = last;
  }, Number(intervalMs));
  const stop = () => {
    clearInterval(timer);
    last = rssKib();
    if (last > peak) peak = last;
    console.log(`first_kib=${first} peak_kib=${peak} last_kib=${last} samples=${samples + 1}`);
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else if (command === 'proxy') {
  const [port, url] = args;
  const http = await import('node:http');
  const { pipeline } = await import('node:stream/promises');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  http
    .createServer((req, res) => {
      http
        .get(
          url,
          { agent, headers: process.env.RANGE === '1' ? { range: 'bytes=0-' } : {} },
          (upstream) => {
            res.writeHead(upstream.statusCode === 206 ? 200 : upstream.statusCode, {
              'content-length': upstream.headers['content-length'],
              'content-type': 'application/octet-stream',
            });
            pipeline(upstream, res).catch(() => res.destroy());
          },
        )
        .on('error', () => res.destroy());
    })
    .listen(Number(port), '127.0.0.1');
} else {
  console.error(
    'usage: node bench/s3-helper.mjs presign KEY [SECONDS] | rss PID [INTERVAL_MS] | proxy PORT URL',
  );
  process.exit(2);
}
