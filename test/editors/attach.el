;;; attach.el --- headless Emacs + eglot attach to `iris-helper serve --stdio'  -*- lexical-binding: t -*-
;; Run by scripts/editors-test.sh:  emacs --batch -Q -l test/editors/attach.el
;; Env: IRIS_HELPER (absolute path of the binary), PROJECT_DIR (a folder that is not an IRIS
;; project), RESULT (JSON out). Runs iris.status through workspace/executeCommand and checks the
;; answer and the iris/status notification.
(setq package-directory-list '("/usr/share/emacs/site-lisp/elpa")) ; -Q drops Debian's site-lisp
(package-activate-all)
(require 'eglot)
(require 'json)

(defvar iris-seen nil "Plist of what the helper told us.")
(defun iris-seen-add (key val)
  (setq iris-seen (plist-put iris-seen key (vconcat (plist-get iris-seen key) (list val)))))

(define-derived-mode iris-test-mode fundamental-mode "IRIS")
(add-to-list 'auto-mode-alist '("\\.iris\\'" . iris-test-mode))
(add-to-list 'eglot-server-programs
             `(iris-test-mode . (,(getenv "IRIS_HELPER") "serve" "--stdio" "--log-level" "debug"
                                 "--log-file" ,(expand-file-name "../helper-emacs.log" (getenv "PROJECT_DIR"))
                                 :initializationOptions (:autoStart :json-false))))
(setq eglot-sync-connect t
      backtrace-on-error-noninteractive nil)

(cl-defmethod eglot-handle-notification (_s (_m (eql iris/status)) &rest params)
  (iris-seen-add :iris_status params))
(cl-defmethod eglot-handle-notification :before (_s (_m (eql window/showMessage)) &key type message)
  (iris-seen-add :showMessage (list :type type :message message)))

(defun iris-wait-until (pred secs)
  (with-timeout (secs nil) (while (not (funcall pred)) (accept-process-output nil 0.05)) t))

(defun iris-finish (ok why)
  (setq iris-seen (plist-put iris-seen :ok (if ok t :json-false)))
  (setq iris-seen (plist-put iris-seen :why why))
  (with-temp-file (or (getenv "RESULT") "emacs-result.json") (insert (json-encode iris-seen) "\n"))
  (princ (format "%s emacs: %s\n" (if ok "PASS" "FAIL") why))
  (kill-emacs (if ok 0 1)))

(condition-case err
    (let* ((dir (file-name-as-directory (getenv "PROJECT_DIR")))
           (file (expand-file-name "notes.iris" dir))
           server proc result bad)
      (write-region "hello\n" nil file)
      (with-current-buffer (find-file-noselect file)
        (call-interactively #'eglot)
        (setq server (eglot-current-server))
        (unless server (iris-finish nil "eglot did not connect"))
        (setq proc (jsonrpc--process server))
        (setq result (jsonrpc-request server :workspace/executeCommand '(:command "iris.status")))
        (setq bad (condition-case e
                      (progn (jsonrpc-request server :workspace/executeCommand '(:command "iris.nope")) nil)
                    (jsonrpc-error (cdr e))))
        (iris-wait-until (lambda () (plist-get iris-seen :iris_status)) 20)
        (insert "edited\n")               ; eglot sends didChange even without declared sync
        (eglot-shutdown server)           ; shutdown + exit, then kills the process
        (iris-wait-until (lambda () (not (process-live-p proc))) 10))
      (setq iris-seen (plist-put iris-seen :executeCommand result))
      (setq iris-seen (plist-put iris-seen :unknownCommand (format "%S" bad)))
      (let* ((st (and (plist-get iris-seen :iris_status) (aref (plist-get iris-seen :iris_status) 0)))
             (want (directory-file-name dir))
             (state (plist-get result :state))
             (checks
              `(("iris.status answers for the folder" . ,(equal (plist-get result :project) want))
                ("the folder is not an IRIS project" . ,(eq (plist-get result :isIrisProject) :json-false))
                ("nothing was started" . ,(member state '("not-created" "docker-unavailable")))
                ("an iris/status notification arrived" . ,(and st (equal (plist-get st :project) want)
                                                               (equal (plist-get st :state) state)))
                ("unknown command is -32602" . ,(string-match-p "-32602" (format "%S" bad)))))
             (failed (seq-find (lambda (c) (not (cdr c))) checks)))
        (delete-file file)
        (if failed
            (iris-finish nil (concat "check failed: " (car failed)))
          (iris-finish t (format "all %d checks passed" (length checks))))))
  (error (iris-finish nil (format "lisp error: %S" err))))
