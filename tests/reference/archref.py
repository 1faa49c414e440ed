"""An independent PyTorch implementation of the archlab model family, written from
docs/EQUATIONS.md (the papers' equations), not from archlab's C code. Autograd computes every
gradient, including through the unrolled Sinkhorn-Knopp iterations.

Interface conventions the papers leave open (parameter names, shapes and layouts, RoPE pairing, norm eps,
how coefficients are parameterized) were taken from archlab so that the same weights file can be loaded;
tests/reference/README.md lists each one and where it came from.

    cfg = Config(json_dict)                 # the "archlab.config" metadata of a weights file
    model = Model(cfg, dtype)               # parameters as a dict name -> tensor (HF-style names)
    model.load(tensors)                     # from st_io.read(weights_file); checks names and shapes
    logits, ce, aux = model.forward(tokens, targets)
"""
import math

import torch
import torch.nn.functional as F


class ConfigError(Exception):
    pass


class Config:
    def __init__(self, d):
        self.d = d
        g = d.get
        try:
            self.V, self.C, self.L = int(d["vocab_size"]), int(d["d_model"]), int(d["n_layers"])
            self.H = int(d["n_heads"])
            self.hd = int(g("head_dim") or self.C // self.H)
            self.Hkv = int(g("n_kv_heads") or self.H)
            self.d_ff = int(d["d_ff"])
            self.theta, self.eps = float(d["rope_theta"]), float(d["norm_eps"])
            self.attention, self.residual, self.ffn = d["attention"], d["residual"], d["ffn"]
        except KeyError as e:
            raise ConfigError(f"config lacks the field {e}")
        if self.attention not in ("mha", "gqa", "mqa", "mla"):
            raise ConfigError(f"unknown attention {self.attention!r}")
        if self.residual not in ("residual", "hc", "mhc"):
            raise ConfigError(f"unknown residual {self.residual!r}")
        self.n = 1 if self.residual == "residual" else int(d["streams"])
        self.dynamic = bool(g("hc_dynamic", True))
        self.iters = int(g("sinkhorn_iters", 20))
        self.use_pre, self.use_post, self.use_res = bool(g("h_pre", True)), bool(g("h_post", True)), bool(g("h_res", True))
        # MLA
        self.dc, self.dq = int(g("kv_lora_rank", 0)), int(g("q_lora_rank", 0))
        self.dn, self.dr, self.dv = int(g("qk_nope_head_dim", 0)), int(g("qk_rope_head_dim", 0)), int(g("v_head_dim", 0))
        # MoE
        self.E, self.Ns, self.K = int(g("n_routed_experts", 0)), int(g("n_shared_experts", 0)), int(g("num_experts_per_tok", 0))
        self.Fe = int(g("moe_intermediate_size", 0))
        self.scoring = g("scoring_func", "softmax")
        self.norm_topk = bool(g("norm_topk_prob", 0))
        self.route_scale = float(g("routed_scaling_factor", 1.0))
        self.n_group, self.topk_group = int(g("n_group", 1)), int(g("topk_group", 1))
        self.topk_method = g("topk_method", "greedy")
        self.first_dense = int(g("first_k_dense_replace", 0))
        self.balance = g("balance", "none")
        self.a_exp = float(g("aux_alpha", 0)) + float(g("seq_alpha", 0))
        self.a_dev = float(g("device_alpha", 0))

    def is_moe(self, layer):
        return self.ffn == "moe" and layer >= self.first_dense


def rmsnorm(x, w, eps):
    """x / sqrt(mean(x^2) + eps) * w over the last axis (w None: no learned scale)."""
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return y if w is None else y * w


def rope_tables(T, d, theta, dtype):
    """cos, sin (T, d/2): angle t * theta^(-2i/d)."""
    i = torch.arange(d // 2, dtype=torch.float64)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * theta ** (-2.0 * i / d)[None, :]
    return ang.cos().to(dtype), ang.sin().to(dtype)


def rope(x, cos, sin):
    """Rotates x (..., T, heads, d) by position, pairing dimension i with i + d/2."""
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    c, s = cos[:, None, :], sin[:, None, :]
    return torch.cat([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1)


def causal_attention(q, k, v, scale):
    """q (B,T,H,dk), k (B,T,H,dk), v (B,T,H,dv) -> (B,T,H,dv) with a causal softmax."""
    s = torch.einsum("bthd,bshd->bhts", q, k) * scale
    T = q.shape[1]
    mask = torch.ones(T, T, dtype=torch.bool, device=q.device).triu(1)
    p = s.masked_fill(mask, float("-inf")).softmax(-1)
    return torch.einsum("bhts,bshd->bthd", p, v)


def swiglu(x, w_gate, w_up, w_down):
    return F.linear(F.silu(F.linear(x, w_gate)) * F.linear(x, w_up), w_down)


def sinkhorn(logits, iters):
    """Sinkhorn-Knopp (mHC eq. 9): M = exp(logits) (max subtracted), then iters x (columns to sum 1, rows to sum 1).
    logits (..., n, n); differentiated by autograd through every iteration."""
    m = logits - logits.amax(dim=(-2, -1), keepdim=True)
    M = m.exp()
    for _ in range(iters):
        M = M / M.sum(-2, keepdim=True)  # columns
        M = M / M.sum(-1, keepdim=True)  # rows
    return M


class Model:
    def __init__(self, cfg, dtype=torch.float64):
        self.cfg, self.dtype = cfg, dtype
        self.shapes = self._declare()
        self.p = {}

    # ---- parameters: names and shapes (archlab's Hugging Face-style names) ----
    def _declare(self):
        c, s = self.cfg, {}
        C = c.C
        s["model.embed_tokens.weight"] = (c.V, C)
        for l in range(c.L):
            a = f"model.layers.{l}."
            s[a + "input_layernorm.weight"] = (C,)
            if c.attention == "mla":
                D = c.dn + c.dr
                if c.dq:
                    s[a + "self_attn.q_a_proj.weight"] = (c.dq, C)
                    s[a + "self_attn.q_a_layernorm.weight"] = (c.dq,)
                    s[a + "self_attn.q_b_proj.weight"] = (c.H * D, c.dq)
                else:
                    s[a + "self_attn.q_proj.weight"] = (c.H * D, C)
                s[a + "self_attn.kv_a_proj_with_mqa.weight"] = (c.dc + c.dr, C)
                s[a + "self_attn.kv_a_layernorm.weight"] = (c.dc,)
                s[a + "self_attn.kv_b_proj.weight"] = (c.H * (c.dn + c.dv), c.dc)
                s[a + "self_attn.o_proj.weight"] = (C, c.H * c.dv)
            else:
                s[a + "self_attn.q_proj.weight"] = (c.H * c.hd, C)
                s[a + "self_attn.k_proj.weight"] = (c.Hkv * c.hd, C)
                s[a + "self_attn.v_proj.weight"] = (c.Hkv * c.hd, C)
                s[a + "self_attn.o_proj.weight"] = (C, c.H * c.hd)
            s[a + "post_attention_layernorm.weight"] = (C,)
            if c.is_moe(l):
                s[a + "mlp.gate.weight"] = (c.E, C)
                if c.balance == "aux_free" or c.topk_method == "noaux_tc":
                    s[a + "mlp.gate.e_score_correction_bias"] = (c.E,)
                for e in range(c.E):
                    s[a + f"mlp.experts.{e}.gate_proj.weight"] = (c.Fe, C)
                    s[a + f"mlp.experts.{e}.up_proj.weight"] = (c.Fe, C)
                    s[a + f"mlp.experts.{e}.down_proj.weight"] = (C, c.Fe)
                if c.Ns:
                    Fs = c.Ns * c.Fe
                    s[a + "mlp.shared_experts.gate_proj.weight"] = (Fs, C)
                    s[a + "mlp.shared_experts.up_proj.weight"] = (Fs, C)
                    s[a + "mlp.shared_experts.down_proj.weight"] = (C, Fs)
            else:
                s[a + "mlp.gate_proj.weight"] = (c.d_ff, C)
                s[a + "mlp.up_proj.weight"] = (c.d_ff, C)
                s[a + "mlp.down_proj.weight"] = (C, c.d_ff)
        s["model.norm.weight"] = (C,)
        s["lm_head.weight"] = (c.V, C)
        n = c.n
        for sub in range(2 * c.L):
            pre = f"model.layers.{sub // 2}.{'mlp' if sub % 2 else 'attn'}_"
            if c.residual == "hc":
                if c.dynamic:
                    s[pre + "hc_w"] = (2 + n, C)
                    s[pre + "hc_scale"] = (2,)
                s[pre + "hc_am"] = (n,)
                s[pre + "hc_b"] = (n,)
                s[pre + "hc_ar"] = (n, n)
            elif c.residual == "mhc":
                if c.dynamic:
                    s[pre + "mhc_phi"] = (2 * n + n * n, n * C)
                    s[pre + "mhc_alpha"] = (3,)
                s[pre + "mhc_b_pre"] = (n,)
                s[pre + "mhc_b_post"] = (n,)
                s[pre + "mhc_b_res"] = (n, n)
        return s

    def load(self, tensors, what="weights file"):
        """tensors: name -> tensor (float32 from archlab). Names and shapes must be exactly the config's."""
        missing = [k for k in self.shapes if k not in tensors]
        extra = [k for k in tensors if k not in self.shapes]
        if missing or extra:
            raise ConfigError(f"{what} does not hold this config's parameters (a file for a different config?): "
                              f"missing {missing[:3]}{'...' if len(missing) > 3 else ''}, "
                              f"unexpected {extra[:3]}{'...' if len(extra) > 3 else ''}")
        for k, shp in self.shapes.items():
            if tuple(tensors[k].shape) != tuple(shp):
                raise ConfigError(f"{what}: tensor {k} has shape {tuple(tensors[k].shape)}, the config needs {shp}")
            self.p[k] = tensors[k].to(self.dtype).clone().requires_grad_(True)

    def init_random(self, seed=0, std=0.02):
        """For benchmarks: parameters of the right shapes (values do not matter for speed, but keep them sane)."""
        g = torch.Generator().manual_seed(seed)
        for k, shp in self.shapes.items():
            if k.endswith("norm.weight") or k.endswith("layernorm.weight"):
                t = torch.ones(shp)
            elif len(shp) == 2 and "hc_ar" not in k and "b_res" not in k:
                t = torch.randn(shp, generator=g) * std
            else:
                t = torch.randn(shp, generator=g) * 0.1
            self.p[k] = t.to(self.dtype).requires_grad_(True)

    def parameters(self):
        return list(self.p.values())

    # ---- sub-layers F (each applies its own pre-norm) ----
    def attention(self, l, x, rc):
        c, p, a = self.cfg, self.p, f"model.layers.{l}."
        B, T, C = x.shape
        h = rmsnorm(x, p[a + "input_layernorm.weight"], c.eps)
        cos, sin = rc
        if c.attention == "mla":
            D, H = c.dn + c.dr, c.H
            if c.dq:
                cq = rmsnorm(F.linear(h, p[a + "self_attn.q_a_proj.weight"]), p[a + "self_attn.q_a_layernorm.weight"], c.eps)
                q = F.linear(cq, p[a + "self_attn.q_b_proj.weight"])
            else:
                q = F.linear(h, p[a + "self_attn.q_proj.weight"])
            q = q.view(B, T, H, D)
            qC, qR = q[..., :c.dn], rope(q[..., c.dn:], cos, sin)
            wkva = p[a + "self_attn.kv_a_proj_with_mqa.weight"]
            ckv = rmsnorm(F.linear(h, wkva[:c.dc]), p[a + "self_attn.kv_a_layernorm.weight"], c.eps)
            kR = rope(F.linear(h, wkva[c.dc:]).view(B, T, 1, c.dr), cos, sin)  # one rope key for all heads
            kv = F.linear(ckv, p[a + "self_attn.kv_b_proj.weight"]).view(B, T, H, c.dn + c.dv)
            kC, v = kv[..., :c.dn], kv[..., c.dn:]
            qf = torch.cat([qC, qR], -1)
            kf = torch.cat([kC, kR.expand(B, T, H, c.dr)], -1)
            y = causal_attention(qf, kf, v, 1.0 / math.sqrt(D))
            return F.linear(y.reshape(B, T, H * c.dv), p[a + "self_attn.o_proj.weight"])
        H, Hkv, hd = c.H, c.Hkv, c.hd
        q = rope(F.linear(h, p[a + "self_attn.q_proj.weight"]).view(B, T, H, hd), cos, sin)
        k = rope(F.linear(h, p[a + "self_attn.k_proj.weight"]).view(B, T, Hkv, hd), cos, sin)
        v = F.linear(h, p[a + "self_attn.v_proj.weight"]).view(B, T, Hkv, hd)
        if Hkv != H:  # GQA / MQA: consecutive query heads share a key/value head
            k = k.repeat_interleave(H // Hkv, dim=2)
            v = v.repeat_interleave(H // Hkv, dim=2)
        y = causal_attention(q, k, v, 1.0 / math.sqrt(hd))
        return F.linear(y.reshape(B, T, H * hd), p[a + "self_attn.o_proj.weight"])

    def ffn(self, l, x, aux):
        c, p, a = self.cfg, self.p, f"model.layers.{l}."
        u = rmsnorm(x, p[a + "post_attention_layernorm.weight"], c.eps)
        if not c.is_moe(l):
            return swiglu(u, p[a + "mlp.gate_proj.weight"], p[a + "mlp.up_proj.weight"], p[a + "mlp.down_proj.weight"])
        return self.moe(l, u, aux)

    def moe(self, l, u, aux):
        """DeepSeekMoE (V2 eqs. 20-31, V3 eqs. 12-16) on the normalized input u (B,T,C)."""
        c, p, a = self.cfg, self.p, f"model.layers.{l}.mlp."
        B, T, C = u.shape
        E, K = c.E, c.K
        x = u.reshape(B * T, C)
        logits = F.linear(x, p[a + "gate.weight"])
        s = logits.softmax(-1) if c.scoring == "softmax" else logits.sigmoid()
        sel = s.detach()
        if a + "gate.e_score_correction_bias" in p:  # V3: the bias steers the selection only
            sel = sel + p[a + "gate.e_score_correction_bias"].detach()
        G = c.n_group
        if c.topk_method in ("group_limited_greedy", "noaux_tc") and G > 1 and c.topk_group < G:
            gs = sel.view(-1, G, E // G)
            if c.topk_method == "group_limited_greedy":  # V2: a group's best score
                gscore = gs.amax(-1)
            else:  # V3: the sum of a group's two best (biased) scores
                gscore = gs.topk(min(2, E // G), dim=-1).values.sum(-1)
            keep = torch.zeros_like(gscore, dtype=torch.bool)
            keep.scatter_(1, gscore.topk(c.topk_group, dim=-1).indices, True)
            sel = sel.masked_fill(~keep.repeat_interleave(E // G, dim=1), float("-inf"))
        idx = sel.topk(K, dim=-1).indices  # (N, K)
        g = s.gather(1, idx)  # gate values from the unbiased scores
        if c.norm_topk and K > 1:
            g = g / g.sum(-1, keepdim=True)
        g = g * c.route_scale
        out = torch.zeros_like(x)
        if c.Ns:
            out = out + swiglu(x, p[a + "shared_experts.gate_proj.weight"], p[a + "shared_experts.up_proj.weight"],
                               p[a + "shared_experts.down_proj.weight"])
        for e in range(E):
            rows, slot = (idx == e).nonzero(as_tuple=True)
            if rows.numel() == 0:
                continue
            ye = swiglu(x[rows], p[a + f"experts.{e}.gate_proj.weight"], p[a + f"experts.{e}.up_proj.weight"],
                        p[a + f"experts.{e}.down_proj.weight"])
            out = out.index_add(0, rows, g[rows, slot][:, None] * ye)
        if c.a_exp or c.a_dev:
            aux.append(self.balance_loss(s.view(B, T, E), idx.view(B, T, K)))
        return out.view(B, T, C)

    def balance_loss(self, s, idx):
        """Per sequence: a1 sum_i f_i P_i (+ a2 sum_d f'_d P'_d over the n_group groups as devices),
        f_i = E/(K T) #(tokens choosing i), P_i = mean over tokens of s'_i, s' = s normalized over all routed
        experts (V3 sequence-wise; the identity for softmax scores, so V2's P_i as well); mean over sequences."""
        c = self.cfg
        B, T, E = s.shape
        K = idx.shape[-1]
        counts = torch.zeros(B, E, dtype=s.dtype).scatter_add_(1, idx.reshape(B, T * K),
                                                              torch.ones(B, T * K, dtype=s.dtype))
        f = counts * E / (K * T)
        P = (s / s.sum(-1, keepdim=True)).mean(1)  # (B, E)
        loss = c.a_exp * (f * P).sum(-1)
        if c.a_dev:
            G = c.n_group
            fd = f.view(B, G, E // G).mean(-1)
            Pd = P.view(B, G, E // G).sum(-1)
            loss = loss + c.a_dev * (fd * Pd).sum(-1)
        return loss.mean()

    # ---- the residual family ----
    def hc_maps(self, sub, X):
        """HC (HC eqs. 10-13) in mHC notation for the n streams X (B,T,n,C): H_pre (B,T,n), H_post (B,T,n),
        H_res (B,T,n,n) with H_res = A_r(H)^T."""
        c, p = self.cfg, self.p
        pre = f"model.layers.{sub // 2}.{'mlp' if sub % 2 else 'attn'}_"
        n = c.n
        Am, Bv, Ar = p[pre + "hc_am"], p[pre + "hc_b"], p[pre + "hc_ar"]
        shp = X.shape[:-1]  # (B,T,n)
        if c.dynamic:
            Hbar = rmsnorm(X, None, 1e-6)                 # norm(H), per stream row
            W = p[pre + "hc_w"]                            # rows [W_m ; W_b ; W_r columns]
            sa, sb = p[pre + "hc_scale"][0], p[pre + "hc_scale"][1]
            Am_dyn = sa * torch.tanh(Hbar @ W[0]) + Am          # (B,T,n): A_m(H)[j]
            B_dyn = sb * torch.tanh(Hbar @ W[1]) + Bv            # B(H)[j]
            Ar_dyn = sa * torch.tanh(Hbar @ W[2:].T) + Ar        # (B,T,n,n): A_r(H)[j, i]
        else:
            Am_dyn, B_dyn, Ar_dyn = Am.expand(shp), Bv.expand(shp), Ar.expand(*shp, n)
        return Am_dyn, B_dyn, Ar_dyn.transpose(-1, -2)

    def mhc_maps(self, sub, X):
        """mHC eqs. 7-9: from v' = RMSNorm(vec X) over the n*C flattened state."""
        c, p = self.cfg, self.p
        pre = f"model.layers.{sub // 2}.{'mlp' if sub % 2 else 'attn'}_"
        n = c.n
        B, T = X.shape[:2]
        if c.dynamic:
            v = rmsnorm(X.reshape(B, T, n * c.C), None, 1e-6)
            raw = F.linear(v, p[pre + "mhc_phi"])            # [v' phi_pre | v' phi_post | v' phi_res]
            al = p[pre + "mhc_alpha"]
            t_pre = al[0] * raw[..., :n] + p[pre + "mhc_b_pre"]
            t_post = al[1] * raw[..., n:2 * n] + p[pre + "mhc_b_post"]
            t_res = al[2] * raw[..., 2 * n:].reshape(B, T, n, n) + p[pre + "mhc_b_res"]
        else:
            t_pre = p[pre + "mhc_b_pre"].expand(B, T, n)
            t_post = p[pre + "mhc_b_post"].expand(B, T, n)
            t_res = p[pre + "mhc_b_res"].expand(B, T, n, n)
        return torch.sigmoid(t_pre), 2 * torch.sigmoid(t_post), sinkhorn(t_res, c.iters)

    def forward(self, tokens, targets):
        """tokens, targets (B,T) int64 (targets < 0 not counted) -> logits (B,T,V), mean cross-entropy, aux loss."""
        c, p = self.cfg, self.p
        B, T = tokens.shape
        x = p["model.embed_tokens.weight"][tokens]
        rdim = c.dr if c.attention == "mla" else c.hd
        rc = rope_tables(T, rdim, c.theta, self.dtype)
        aux = []
        subs = []
        for l in range(c.L):
            subs.append(lambda y, l=l: self.attention(l, y, rc))
            subs.append(lambda y, l=l: self.ffn(l, y, aux))
        if c.residual == "residual":
            for f in subs:
                x = x + f(x)                               # pre-norm residual
            top = x
        else:
            n = c.n
            X = x[:, :, None, :].expand(B, T, n, c.C)      # expansion: copy to every stream
            for sub, f in enumerate(subs):
                hpre, hpost, hres = (self.hc_maps if c.residual == "hc" else self.mhc_maps)(sub, X)
                if not c.use_pre:
                    hpre = torch.full_like(hpre, 1.0 / n)
                if not c.use_post:
                    hpost = torch.ones_like(hpost)
                if not c.use_res:
                    hres = torch.eye(n, dtype=X.dtype).expand_as(hres)
                u = torch.einsum("btj,btjc->btc", hpre, X)                 # H_pre x_l
                y = f(u)
                X = torch.einsum("btij,btjc->btic", hres, X) + hpost[..., None] * y[:, :, None, :]
            top = X.sum(2)                                  # collapse: sum of the streams
        h = rmsnorm(top, p["model.norm.weight"], c.eps)
        logits = F.linear(h, p["lm_head.weight"])
        ce = F.cross_entropy(logits.reshape(B * T, c.V), targets.reshape(B * T), ignore_index=-1, reduction="mean")
        aux_loss = sum(aux) if aux else torch.zeros((), dtype=self.dtype)
        return logits, ce, aux_loss
