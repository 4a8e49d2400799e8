// Package s3blob keeps message bytes as objects in an S3-compatible object
// store (AWS S3, MinIO, versitygw, Ceph RGW, Garage...), for a PostgreSQL
// store whose nodes keep no mail on their own disks (docs/ARCHITECTURE.md,
// "Several nodes", and the config key `blobs`).
//
// It is a narrow client over minio-go: put, get, delete and list objects
// under one key prefix of one bucket. What the objects hold and when they
// may be deleted is the store backend's business (pgstore/objects.go): this
// package knows nothing of messages.
//
// Invariants:
//   - Every key is relative to the configured prefix; no call reads, writes
//     or lists outside it, so one bucket can hold several installs.
//   - Get never allocates more than the caller's bound, whatever the object
//     store answers.
//   - A missing object is store.ErrNotFound (errors.Is), any other failure
//     an error that names the key, never the credentials.
package s3blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"gannet/internal/store"
)

// Options say where the objects live and how to sign requests.
type Options struct {
	// Endpoint is the object store's host[:port]; "" = s3.amazonaws.com.
	Endpoint string
	// Region is the bucket's region; "" lets the client discover it.
	Region string
	// Bucket and Prefix: objects are named Prefix/key in Bucket. Prefix
	// may be empty.
	Bucket string
	Prefix string
	// AccessKey and SecretKey sign requests (AWS Signature V4). Both
	// empty: the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY environment
	// variables.
	AccessKey string
	SecretKey string
	// PlainHTTP talks HTTP instead of HTTPS: only for an object store on
	// loopback or a private network.
	PlainHTTP bool
}

// ParseURL splits the value of the config key `blobs`, "s3://bucket/prefix",
// into the bucket and the prefix (without leading or trailing slashes).
func ParseURL(s string) (bucket, prefix string, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("not an s3://bucket/prefix URL")
	}
	return u.Host, strings.Trim(u.Path, "/"), nil
}

// Client is a connection to one bucket under one prefix. It is safe for
// concurrent use.
type Client struct {
	c      *minio.Client
	bucket string
	prefix string // "" or ending in "/"
}

// New makes a client. It does no I/O: Check tells whether the bucket is
// reachable.
func New(opts Options) (*Client, error) {
	if opts.Bucket == "" {
		return nil, errors.New("s3blob: no bucket")
	}
	endpoint := opts.Endpoint
	if endpoint == "" {
		endpoint = "s3.amazonaws.com"
	}
	creds := credentials.NewEnvAWS()
	if opts.AccessKey != "" || opts.SecretKey != "" {
		creds = credentials.NewStaticV4(opts.AccessKey, opts.SecretKey, "")
	}
	c, err := minio.New(endpoint, &minio.Options{
		Creds:  creds,
		Secure: !opts.PlainHTTP,
		Region: opts.Region,
		// Path-style requests work with every S3-compatible server; the
		// virtual-host style needs DNS for bucket.endpoint.
		BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, fmt.Errorf("s3blob: %w", err)
	}
	prefix := strings.Trim(opts.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &Client{c: c, bucket: opts.Bucket, prefix: prefix}, nil
}

// String names the bucket and prefix (for logs; no credentials).
func (c *Client) String() string { return "s3://" + c.bucket + "/" + c.prefix }

// Check fails unless the bucket exists and the credentials may read it.
func (c *Client) Check(ctx context.Context) error {
	ok, err := c.c.BucketExists(ctx, c.bucket)
	if err != nil {
		return fmt.Errorf("s3blob: bucket %s: %w", c.bucket, err)
	}
	if !ok {
		return fmt.Errorf("s3blob: bucket %s does not exist", c.bucket)
	}
	return nil
}

// Put stores data under key, replacing any object of that name.
func (c *Client) Put(ctx context.Context, key string, data []byte) error {
	_, err := c.c.PutObject(ctx, c.bucket, c.prefix+key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{
			ContentType: "application/octet-stream",
			// A Content-MD5 lets the object store refuse a body damaged
			// on the way.
			SendContentMd5:   true,
			DisableMultipart: true,
		})
	if err != nil {
		return fmt.Errorf("s3blob: put %s: %w", key, err)
	}
	return nil
}

// Get returns the object key, which must be at most max bytes: a longer one
// is an error, read no further than max+1 bytes.
func (c *Client) Get(ctx context.Context, key string, max int64) ([]byte, error) {
	obj, err := c.c.GetObject(ctx, c.bucket, c.prefix+key, minio.GetObjectOptions{})
	if err != nil {
		return nil, c.getErr(key, err)
	}
	defer obj.Close()
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(obj, max+1))
	if err != nil {
		return nil, c.getErr(key, err)
	}
	if n > max {
		return nil, fmt.Errorf("s3blob: get %s: longer than %d bytes", key, max)
	}
	return buf.Bytes(), nil
}

func (c *Client) getErr(key string, err error) error {
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return fmt.Errorf("s3blob: get %s: %w", key, store.ErrNotFound)
	}
	return fmt.Errorf("s3blob: get %s: %w", key, err)
}

// Delete removes the objects named by keys; a key with no object is no
// error (S3's DeleteObjects reports none).
func (c *Client) Delete(ctx context.Context, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	ch := make(chan minio.ObjectInfo, len(keys))
	for _, k := range keys {
		ch <- minio.ObjectInfo{Key: c.prefix + k}
	}
	close(ch)
	var errs []error
	for e := range c.c.RemoveObjects(ctx, c.bucket, ch, minio.RemoveObjectsOptions{}) {
		if e.Err != nil && minio.ToErrorResponse(e.Err).Code != minio.NoSuchKey {
			errs = append(errs, fmt.Errorf("%s: %w", strings.TrimPrefix(e.ObjectName, c.prefix), e.Err))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("s3blob: delete: %w", errors.Join(errs...))
	}
	return nil
}

// Walk calls fn for every object under the prefix, in key order, with the
// key (relative to the prefix) and the object's last-modified time. It stops
// at fn's first error, which it returns.
func (c *Client) Walk(ctx context.Context, fn func(key string, modified time.Time) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the listing goroutine when fn stops early
	for o := range c.c.ListObjects(ctx, c.bucket, minio.ListObjectsOptions{Prefix: c.prefix, Recursive: true}) {
		if o.Err != nil {
			return fmt.Errorf("s3blob: list: %w", o.Err)
		}
		if err := fn(strings.TrimPrefix(o.Key, c.prefix), o.LastModified); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// MakeBucket creates the bucket (tests and first set-up; a bucket that
// exists already is no error).
func (c *Client) MakeBucket(ctx context.Context) error {
	err := c.c.MakeBucket(ctx, c.bucket, minio.MakeBucketOptions{})
	if err != nil {
		code := minio.ToErrorResponse(err).Code
		if code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
			return nil
		}
		return fmt.Errorf("s3blob: make bucket %s: %w", c.bucket, err)
	}
	return nil
}
