import { randomBytes } from "node:crypto"
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3"
import { after, before } from "node:test"
import { S3Storage } from "../../../runtime/storage/s3-storage.js"
import { startMoto } from "../../support/moto.js"
import { storageConformance } from "./storage-conformance.js"

const moto = await startMoto()
after(() => moto.stop())
before(async () => {
  if (moto.skip === false) await moto.reset()
})

storageConformance(
  "S3Storage (moto)",
  async () => {
    if (moto.skip !== false) throw new Error(moto.skip)
    const options = { endpoint: moto.endpoint, region: moto.region, credentials: moto.credentials, forcePathStyle: true }
    const client = new S3Client(options)
    const bucket = `conformance-${randomBytes(6).toString("hex")}`
    await client.send(new CreateBucketCommand({ Bucket: bucket }))
    client.destroy()
    return {
      storage: new S3Storage(options),
      root: `s3://${bucket}/`,
      missingContainer: `s3://no-such-bucket-${randomBytes(4).toString("hex")}/key`,
      multipart: true,
    }
  },
  { skip: moto.skip },
)
