// goseek: the realistic alternative to ringest, written the way a careful Go developer writes an
// upload handler after learning not to read bodies into memory: open the file, seek to
// Upload-Offset, io.Copy the body. Go standard library only. It does not fsync (few handlers
// do); ringestd does, before every offset it reports. Benchmark peer only, not part of ringest.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

type upload struct {
	length int64
	offset int64
}

type server struct {
	dir     string
	mu      sync.Mutex
	uploads map[string]*upload
}

var idPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)
var namePattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func (s *server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Tus-Resumable", "1.0.0")
	name := strings.TrimPrefix(r.URL.Path, "/files/")
	switch {
	case r.Method == http.MethodPost && (r.URL.Path == "/files/" || r.URL.Path == "/files"):
		length, err := strconv.ParseInt(r.Header.Get("Upload-Length"), 10, 64)
		if err != nil || length < 0 {
			http.Error(w, "bad Upload-Length", http.StatusBadRequest)
			return
		}
		buf := make([]byte, 16)
		rand.Read(buf)
		id := hex.EncodeToString(buf)
		f, err := os.Create(filepath.Join(s.dir, id))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		f.Close()
		s.mu.Lock()
		s.uploads[id] = &upload{length: length}
		s.mu.Unlock()
		w.Header().Set("Location", "/files/"+id)
		w.WriteHeader(http.StatusCreated)
	case r.Method == http.MethodPatch && idPattern.MatchString(name):
		s.mu.Lock()
		u := s.uploads[name]
		s.mu.Unlock()
		if u == nil {
			http.NotFound(w, r)
			return
		}
		offset, err := strconv.ParseInt(r.Header.Get("Upload-Offset"), 10, 64)
		if err != nil || offset != u.offset {
			w.WriteHeader(http.StatusConflict)
			return
		}
		f, err := os.OpenFile(filepath.Join(s.dir, name), os.O_WRONLY, 0)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		n, err := io.Copy(f, io.LimitReader(r.Body, u.length-offset))
		s.mu.Lock()
		u.offset += n
		newOffset := u.offset
		s.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Upload-Offset", strconv.FormatInt(newOffset, 10))
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPut && namePattern.MatchString(name):
		f, err := os.Create(filepath.Join(s.dir, name))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		if _, err := io.Copy(f, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
	case r.Method == http.MethodGet && (idPattern.MatchString(name) || namePattern.MatchString(name)):
		http.ServeFile(w, r, filepath.Join(s.dir, name))
	default:
		http.NotFound(w, r)
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "HOST:PORT")
	dir := flag.String("data-dir", "", "where files go")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "goseek: --data-dir required")
		os.Exit(2)
	}
	os.MkdirAll(*dir, 0o750)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "goseek:", err)
		os.Exit(1)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr().String())
	s := &server{dir: *dir, uploads: map[string]*upload{}}
	http.Serve(ln, http.HandlerFunc(s.serveHTTP))
}
